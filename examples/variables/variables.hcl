variable "ssh_user" {
  type        = string
  default     = "root"
  description = "The user etcdform logs in as on every host."
}

variable "subnet" {
  type        = string
  description = "The members' subnet; member N gets host number 10+N."
  validation {
    condition     = can(cidrhost(var.subnet, 13))
    error_message = "The subnet must be a CIDR prefix with room for host number 13."
  }
}

variable "members" {
  type    = list(string)
  default = ["etcd-1", "etcd-2", "etcd-3"]
}

variable "quota" {
  type    = string
  default = "4GiB"
}

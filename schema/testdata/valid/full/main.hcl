variable "ssh_user" {
  type    = string
  default = "root"
}

variable "subnet" {
  type = string
}

variable "quota" {
  type    = string
  default = "4GiB"
}

locals {
  peer_port = 2380
  hosts     = [for i in [11, 12, 13] : cidrhost(var.subnet, i)]
}

cluster "prod" {
  etcd_version    = "v3.6.16"
  fault_tolerance = 1

  connection {
    user             = var.ssh_user
    port             = 2222
    agent            = true
    known_hosts_file = "known_hosts"
    sudo             = true
    timeout          = "30s"
    bastion {
      host = "bastion.example.net"
      user = "ops"
    }
  }
  service {
    manager        = "command"
    name           = upper("etcd")
    start_command  = format("sv up %s", "etcd")
    stop_command   = "sv down etcd"
    status_command = "sv status etcd"
    stop_timeout   = 20
  }
  storage {
    quota_backend_bytes = var.quota
    snapshot_count      = 5000
    max_request_bytes   = "1.5MiB"
  }
  compaction {
    mode      = "revision"
    retention = 1000
  }
  raft {
    heartbeat_interval = 50
    election_timeout   = "500ms"
  }
  metrics {
    listen_urls = ["http://${member.host}:2381"]
    level       = "extensive"
  }
  logging {
    level   = "warn"
    outputs = ["stderr", "/var/log/etcd/${var.quota}.log"]
  }
  corruption_check {
    initial             = true
    compact_hash        = true
    compact_hash_period = "5m"
  }
  tls {
    min_remaining = "30d"
    client {
      ca_source   = "pki/ca.pem"
      cert_source = "pki/${member.name}.pem"
      key_source  = "pki/${member.name}-key.pem"
    }
    peer {
      ca_file          = "/etc/etcd/pki/ca.pem"
      cert_file        = "/etc/etcd/pki/${member.name}-peer.pem"
      key_file         = "/etc/etcd/pki/${member.name}-peer-key.pem"
      client_cert_auth = false
    }
  }
  backup {
    schedule    = "0 */6 * * *"
    on          = ["etcd-1"]
    destination = "s3://backups/etcd"
    keep_last   = 28
    max_age     = "30d"
    encryption {
      recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    }
    s3 {
      endpoint   = "https://minio.example.net"
      region     = "eu-west-1"
      path_style = true
    }
  }

  member "etcd-1" {
    host     = local.hosts[0]
    peer_url = "https://${local.hosts[0]}:${local.peer_port}"
  }
  member "etcd-2" {
    host = local.hosts[1]
    connection {
      user             = "admin"
      private_key_file = "id_placeholder"
    }
  }
  member "etcd-3" {
    host = local.hosts[2]
    tls {
      peer {
        cert_file = "/srv/pki/peer.pem"
      }
    }
  }
}

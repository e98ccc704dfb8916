cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
  auth {
    enabled = true
    tool {
      user        = "root"
      client_cert = true
    }
    user "root" {
      roles        = ["root"]
      password_env = "ROOT_PW"
    }
  }
}
cluster "d" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.21"
  }
  auth {
    enabled = true
    tool {
      client_cert = true
    }
    user "root" {
      roles        = ["root"]
      password_env = "ROOT_PW"
    }
  }
}

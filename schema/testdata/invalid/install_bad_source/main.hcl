cluster "a" {
  connection {
    agent = true
  }
  service {
    user = "Etcd Server"
  }
  install {
    source = "http://mirror.example.com/etcd-v{version}-{os}-{arch}.tar.gz"
    sha256 = "abc"
    arch   = "x86_64"
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
}

cluster "b" {
  etcd_version = "3.6.16"
  connection {
    agent = true
  }
  install {
    source = "https://user:secret@mirror.example.com/v{version}/etcd-v{version}-{platform}.tar.gz"
  }
  member "etcd-1" {
    host = "10.0.1.11"
  }
}

cluster "c" {
  etcd_version = "3.6.16"
  connection {
    agent = true
  }
  install {
    source = "releases/v{version}/etcd-v{version}-{os}-{arch}.tar.gz"
  }
  member "etcd-1" {
    host = "10.0.2.11"
  }
}

cluster "d" {
  connection {
    agent = true
  }
  install {
    source = "https://mirror.example.com/v{version}/etcd-v{version}-{os}-{arch}.tar.gz"
  }
  member "etcd-1" {
    host = "10.0.3.11"
  }
}

cluster "c" {
  connection {
    agent = true
  }
  member "etcd-1" {
    host = "10.0.0.11"
  }
  auth {
    enabled = false
    role "root" {
    }
    role "app" {
      permission {
        type = "reed"
        key  = "/app/"
      }
      permission {
        type      = "read"
        key       = "/b"
        range_end = "/a"
      }
      permission {
        type      = "read"
        key       = "/a"
        prefix    = true
        range_end = "/b"
      }
      permission {
        type = "write"
        key  = ""
      }
      permission {
        type   = "write"
        key    = "/x/"
        prefix = true
      }
      permission {
        type   = "read"
        key    = "/x/"
        prefix = true
      }
    }
    role "app" {
    }
    role "bad name" {
    }
    user "alice" {
      roles        = ["ap", "app", "app"]
      password_env = "1PASS"
    }
    user "bob" {
      roles = ["app"]
    }
    user "carol" {
      roles         = ["app"]
      password_env  = "CAROL_PW"
      password_file = "carol.pw"
    }
  }
}

cluster "c" {
  connection {
    agent = true
  }

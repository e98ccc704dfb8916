package connect

import "time"

func secondsDur(s int) time.Duration { return time.Duration(s) * time.Second }

package ssh

import "testing"

func TestCountRemoteClients(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B0D5A0A:094B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0B0D5A0A:094B 010D5A0A:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0B0D5A0A:094B 010D5A0A:A1B3 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0B0D5A0A:094C 0C0D5A0A:9000 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0B0D5A0A:094B 010D5A0A:A1B4 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0000000000000000
   5: 0B0D5A0A:C350 0B0D5A0A:094B 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1
   6: 0B0D5A0A:094B 0B0D5A0A:C350 01 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:094B 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0000000000000000 20 4 30 10 -1
`
	for name, tc := range map[string]struct {
		ports []int
		want  int
	}{
		// 0x094B = 2379: two IPv4 and one IPv6 established, not the
		// listener, the TIME_WAIT, or the connection from this host's
		// own port 50000 (0xC350) to 2379, at either end.
		"client port":   {[]int{2379}, 3},
		"peer port":     {[]int{2380}, 1},
		"both":          {[]int{2379, 2380}, 4},
		"no such port":  {[]int{4001}, 0},
		"no port given": {nil, 0},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := countRemoteClients(table, tc.ports)
			if err != nil || got != tc.want {
				t.Errorf("countRemoteClients(%v) = %d, %v; want %d", tc.ports, got, err, tc.want)
			}
		})
	}
	if _, err := countRemoteClients("cat: /proc/net/tcp: No such file or directory\n", []int{2379}); err == nil {
		t.Error("text without a table: no error")
	}
}

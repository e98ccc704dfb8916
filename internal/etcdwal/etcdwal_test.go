package etcdwal

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/etcdform/etcdform/providers/etcd/etcdtest"
)

// TestIdentityOfRealWAL reads the head of the first WAL file of a member
// of a real 3-member etcd cluster, stopped, and compares the IDs with what
// its API said while it ran.
func TestIdentityOfRealWAL(t *testing.T) {
	c := etcdtest.NewCluster(t, 3)
	m := c.Members[1]
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, m.ClientURL)
	cli.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := ID{MemberID: st.Header.MemberId, ClusterID: st.Header.ClusterId}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(m.DataDir, "member", "wal", "*.wal"))
	if len(files) == 0 {
		t.Fatalf("no WAL file in %s", m.DataDir)
	}
	sort.Strings(files)
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, HeadBytes)
	n, _ := f.Read(head)
	got, err := Identity(head[:n])
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Identity = member %x cluster %x, want member %x cluster %x", got.MemberID, got.ClusterID, want.MemberID, want.ClusterID)
	}
}

// frame encodes one WAL record as etcd's encoder does: an 8-byte
// little-endian length (with the padding in the top byte) and the record
// padded to 8 bytes.
func frame(typ int64, crc uint32, data []byte) []byte {
	var rec []byte
	rec = protowire.AppendTag(rec, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, uint64(typ))
	rec = protowire.AppendTag(rec, 2, protowire.VarintType)
	rec = protowire.AppendVarint(rec, uint64(crc))
	if data != nil {
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendBytes(rec, data)
	}
	lenField := uint64(len(rec))
	pad := (8 - len(rec)%8) % 8
	if pad != 0 {
		lenField |= uint64(0x80|pad) << 56
	}
	out := binary.LittleEndian.AppendUint64(nil, lenField)
	out = append(out, rec...)
	return append(out, make([]byte, pad)...)
}

func metadata(t *testing.T, member, cluster uint64) []byte {
	md := etcdserverpb.Metadata{NodeID: member, ClusterID: cluster}
	b, err := md.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIdentity(t *testing.T) {
	md := metadata(t, 0x8e9e05c52164694d, 0xcdf818194e3a8c32)
	good := append(frame(crcType, 7, nil), frame(metadataType, crc32.Update(7, crcTable, md), md)...)
	good = append(good, make([]byte, 64)...)
	tests := map[string]struct {
		head    []byte
		want    ID
		wantErr error // nil: any error when want is zero
	}{
		"crc then metadata":  {head: good, want: ID{MemberID: 0x8e9e05c52164694d, ClusterID: 0xcdf818194e3a8c32}},
		"empty":              {head: nil, wantErr: ErrNoMetadata},
		"preallocated zeros": {head: make([]byte, 4096), wantErr: ErrNoMetadata},
		"cut short":          {head: good[:20], wantErr: ErrNoMetadata},
		"bad crc":            {head: append(frame(crcType, 7, nil), frame(metadataType, 1234, md)...)},
		"no crc record":      {head: frame(metadataType, crc32.Update(0, crcTable, md), md)},
		"zero IDs": {head: append(frame(crcType, 0, nil), frame(metadataType, crc32.Update(0, crcTable, metadata(t, 0, 0)),
			metadata(t, 0, 0))...)},
		"entry first": {head: frame(2, 0, []byte{1})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Identity(tc.head)
			switch {
			case tc.want != (ID{}):
				if err != nil || got != tc.want {
					t.Errorf("Identity = %+v, %v; want %+v", got, err, tc.want)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Identity error %v, want %v", err, tc.wantErr)
				}
			case err == nil:
				t.Errorf("Identity = %+v, want an error", got)
			}
		})
	}
}

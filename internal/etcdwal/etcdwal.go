package etcdwal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// HeadBytes is how much of a WAL file's head Identity needs: every WAL
// file starts with a CRC record, the metadata record and a snapshot
// record, a few dozen bytes in all.
const HeadBytes = 4096

// The record types of etcd's WAL (server/storage/wal).
const (
	metadataType int64 = 1
	crcType      int64 = 4
)

// ID is the identity a data dir holds.
type ID struct {
	MemberID  uint64
	ClusterID uint64
}

// ErrNoMetadata: the head holds no complete metadata record (a file cut
// short, or only preallocated zeros).
var ErrNoMetadata = errors.New("etcdwal: no metadata record in the WAL file's head")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Identity decodes the member and cluster IDs from head, the first bytes
// (HeadBytes suffice) of any WAL file of a data dir. It checks the
// metadata record's CRC against the CRC record before it, as etcd does.
func Identity(head []byte) (ID, error) {
	var prevCRC uint32
	seenCRC := false
	for off := 0; ; {
		if len(head)-off < 8 {
			return ID{}, ErrNoMetadata
		}
		lenField := binary.LittleEndian.Uint64(head[off:])
		if lenField == 0 {
			return ID{}, ErrNoMetadata // preallocated space
		}
		recBytes := int(lenField & ^(uint64(0xff) << 56))
		padBytes := 0
		if lenField>>63 == 1 {
			padBytes = int((lenField >> 56) & 0x7)
		}
		off += 8
		if recBytes < 0 || recBytes > len(head)-off {
			return ID{}, ErrNoMetadata
		}
		typ, crc, data, err := record(head[off : off+recBytes])
		if err != nil {
			return ID{}, fmt.Errorf("etcdwal: record at offset %d: %w", off-8, err)
		}
		off += recBytes + padBytes
		switch typ {
		case crcType:
			prevCRC, seenCRC = crc, true
		case metadataType:
			if !seenCRC {
				return ID{}, fmt.Errorf("etcdwal: metadata record before any CRC record")
			}
			if got := crc32.Update(prevCRC, crcTable, data); got != crc {
				return ID{}, fmt.Errorf("etcdwal: metadata record CRC mismatch (record says %08x, data gives %08x)", crc, got)
			}
			var md etcdserverpb.Metadata
			if err := md.Unmarshal(data); err != nil {
				return ID{}, fmt.Errorf("etcdwal: metadata record: %w", err)
			}
			if md.NodeID == 0 || md.ClusterID == 0 {
				return ID{}, fmt.Errorf("etcdwal: metadata record holds member ID %x and cluster ID %x", md.NodeID, md.ClusterID)
			}
			return ID{MemberID: md.NodeID, ClusterID: md.ClusterID}, nil
		default:
			return ID{}, fmt.Errorf("etcdwal: record of type %d before the metadata record", typ)
		}
	}
}

// record decodes one walpb.Record: type (1, int64), crc (2, uint32) and
// data (3, bytes); unknown fields are skipped.
func record(b []byte) (typ int64, crc uint32, data []byte, err error) {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			typ, b = int64(v), b[n:]
		case num == 2 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			crc, b = uint32(v), b[n:]
		case num == 3 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			data, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, wt, b)
			if n < 0 {
				return 0, 0, nil, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return typ, crc, data, nil
}

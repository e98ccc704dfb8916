package backup

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// SnapshotStats is what a snapshot holds, read from its bbolt file.
type SnapshotStats struct {
	Revision int64 // the highest main revision in the key bucket
	KeyCount int64 // live keys at Revision
}

// revBytesLen is etcd's encoding of a revision in the key bucket: 8 bytes
// main, '_', 8 bytes sub; a tombstone adds a trailing 't'.
const revBytesLen = 17

// Inspect opens the bbolt database at path (without etcd's trailing hash)
// read-only and counts the live keys at its latest revision.
func Inspect(path string) (SnapshotStats, error) {
	var st SnapshotStats
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("backup: opening snapshot database: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		// etcd starts at the compacted revision when it is higher than
		// every remaining key's (the latest revisions were deletions).
		if m := tx.Bucket([]byte("meta")); m != nil {
			if v := m.Get([]byte("finishedCompactRev")); len(v) >= 8 {
				st.Revision = int64(binary.BigEndian.Uint64(v[:8]))
			}
		}
		b := tx.Bucket([]byte("key"))
		if b == nil {
			return fmt.Errorf("backup: snapshot database has no key bucket")
		}
		live := map[string]bool{}
		var kv mvccpb.KeyValue
		return b.ForEach(func(k, v []byte) error {
			if len(k) < revBytesLen {
				return fmt.Errorf("backup: snapshot database: bad revision key %x", k)
			}
			if main := int64(binary.BigEndian.Uint64(k[:8])); main > st.Revision {
				st.Revision = main
			}
			kv.Reset()
			if err := kv.Unmarshal(v); err != nil {
				return fmt.Errorf("backup: snapshot database: revision %x: %w", k, err)
			}
			tomb := len(k) > revBytesLen && k[revBytesLen] == 't'
			key := string(kv.Key)
			switch {
			case tomb && live[key]:
				delete(live, key)
				st.KeyCount--
			case !tomb && !live[key]:
				live[key] = true
				st.KeyCount++
			}
			return nil
		})
	})
	if err != nil {
		return st, err
	}
	if st.Revision == 0 {
		st.Revision = 1 // an empty store is at revision 1
	}
	return st, nil
}

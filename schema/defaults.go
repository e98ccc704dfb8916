package schema

// NewCluster returns a cluster named name holding every cluster-level
// default the loader starts a cluster block from: the service's paths and
// manager, etcd's own storage, compaction and raft settings, and no
// fault_tolerance floor. Tests that build clusters in Go start here, so the
// defaults live only in the schema.
func NewCluster(name string) *Cluster {
	return &Cluster{
		Name:           name,
		FaultTolerance: -1,
		Service: Service{Manager: DefaultManager, Name: DefaultServiceName, Binary: DefaultBinary,
			ConfigFile: DefaultConfigFile, DataDir: DefaultDataDir},
		Storage:    Storage{QuotaBackendBytes: DefaultQuotaBackendBytes, SnapshotCount: DefaultSnapshotCount, MaxRequestBytes: DefaultMaxRequestBytes},
		Compaction: Compaction{Mode: DefaultCompactionMode, Retention: DefaultRetention},
		Raft:       Raft{HeartbeatInterval: DefaultHeartbeat, ElectionTimeout: DefaultElection},
	}
}

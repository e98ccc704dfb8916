package etcd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdform/etcdform/state"
)

// Observe reads the live state of the cluster: the member list, every
// member's status (all endpoints in parallel, each bounded by the endpoint
// timeout), the leader, alarms and the cluster version. It never fails:
// an endpoint that does not answer gets StatusError, and when no endpoint
// answers at all the result has Reachable false and Error set. Name and
// Hosts are left for the caller.
//
// LeaderID is the leader named by the status with the highest raft term.
// ClusterVersion is the "etcdcluster" field of the leader's HTTP /version
// endpoint (the version the cluster runs at, which lags binaries during a
// rolling upgrade); when that cannot be read it falls back to the leader's
// Status.Version, its binary version.
func (c *Client) Observe(ctx context.Context) *state.Cluster {
	oc := &state.Cluster{}
	ms, cid, err := c.observeMembers(ctx)
	if err != nil {
		oc.Error = err.Error()
		return oc
	}
	oc.Reachable, oc.ClusterID = true, cid

	var sts []memberStatus
	var alarms *clientv3.AlarmResponse
	var alarmErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sts = c.statuses(ctx, ms, false) }()
	go func() {
		defer wg.Done()
		if c.o.down.quorumLost() {
			// Alarm list goes through raft: without a quorum it only
			// waits out its timeout.
			alarmErr = fmt.Errorf("not asked: %w", ErrKnownNoQuorum)
			return
		}
		actx, cancel := c.probeCtx(ctx)
		defer cancel()
		alarms, alarmErr = c.cli.AlarmList(actx)
	}()
	wg.Wait()

	oc.LeaderID = leaderOf(sts)
	var leaderEP, leaderVersion string
	for _, s := range sts {
		om := state.Member{
			ID: s.Member.ID, Name: s.Member.Name, IsLearner: s.Member.IsLearner,
			PeerURLs: s.Member.PeerURLs, ClientURLs: s.Member.ClientURLs,
		}
		if s.Err != nil {
			om.StatusError = s.Err.Error()
		} else {
			om.Status = toEndpointStatus(s.Status)
			if s.Member.ID == oc.LeaderID {
				leaderEP, leaderVersion = s.Endpoint, s.Status.Version
			}
		}
		oc.Members = append(oc.Members, om)
	}
	if alarmErr != nil {
		// Alarm list goes through raft: it fails without quorum. Say so
		// rather than report "no alarms".
		oc.Error = fmt.Sprintf("alarm list: %v", alarmErr)
	} else {
		for _, a := range alarms.Alarms {
			oc.Alarms = append(oc.Alarms, state.Alarm{MemberID: a.MemberID, Type: a.Alarm.String()})
		}
	}
	oc.ClusterVersion = leaderVersion
	if leaderEP != "" {
		if v, err := c.clusterVersion(ctx, leaderEP); err == nil && v != "" {
			oc.ClusterVersion = v
		}
	}
	return oc
}

// observeMembers reads the member list linearizably, falling back to a
// serializable read (a member's local view) when there is no quorum.
//
// When the shared Down knows the cluster answered no linearizable read
// earlier in this apply, it reads the local view at once.
func (c *Client) observeMembers(ctx context.Context) ([]Member, uint64, error) {
	err := errors.New("no linearizable read earlier in this apply")
	if !c.o.down.quorumLost() {
		lctx, cancel := c.probeCtx(ctx)
		var resp *clientv3.MemberListResponse
		resp, err = c.cli.MemberList(lctx)
		cancel()
		if err == nil {
			c.o.down.setQuorumLost(false)
			return toMembers(resp.Members), resp.Header.GetClusterId(), nil
		}
	}
	sctx, cancel := c.probeCtx(ctx)
	defer cancel()
	resp, serr := c.cli.MemberList(sctx, clientv3.WithSerializable())
	if serr != nil {
		return nil, 0, fmt.Errorf("etcd: no endpoint of %s answered: member list: %w", strings.Join(c.cli.Endpoints(), ","), err)
	}
	if ctx.Err() == nil {
		c.o.down.setQuorumLost(true)
	}
	return toMembers(resp.Members), resp.Header.GetClusterId(), nil
}

func toEndpointStatus(s *clientv3.StatusResponse) *state.EndpointStatus {
	return &state.EndpointStatus{
		MemberID: s.Header.GetMemberId(),
		Version:  s.Version, DBSize: s.DbSize, DBSizeInUse: s.DbSizeInUse, Revision: s.Header.GetRevision(),
		Leader: s.Leader, RaftTerm: s.RaftTerm, RaftIndex: s.RaftIndex,
		RaftAppliedIndex: s.RaftAppliedIndex, IsLearner: s.IsLearner,
		Errors: append([]string(nil), s.Errors...),
	}
}

// clusterVersion reads the "etcdcluster" field of endpoint's /version.
func (c *Client) clusterVersion(ctx context.Context, endpoint string) (string, error) {
	if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		return "", fmt.Errorf("etcd: no HTTP /version on %s", endpoint)
	}
	ctx, cancel := c.probeCtx(ctx)
	defer cancel()
	var v struct {
		Cluster string `json:"etcdcluster"`
	}
	if err := getJSON(ctx, c.o.tls, strings.TrimSuffix(endpoint, "/")+"/version", &v); err != nil {
		return "", err
	}
	return v.Cluster, nil
}

// getJSON decodes into v the JSON a member serves at url (its /version, or
// a peer URL's /members), over a connection of its own (tlsConf for
// https), closed after. Errors name the URL.
func getJSON(ctx context.Context, tlsConf *tls.Config, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: tlsConf}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("etcd: %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd: %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("etcd: %s: %w", url, err)
	}
	return nil
}

package server

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc"
	"go.etcd.io/etcd/server/v3/proxy/grpcproxy/adapter"
)

// embeddedEtcd is the real etcd server running in this process, used when
// no --etcd-servers are given. It serves on loopback only.
type embeddedEtcd struct {
	etcd *embed.Etcd
}

// startEmbeddedEtcd starts etcd with its data in dir and returns it once it
// serves. Data survives restarts on the same dir; the ports are new each time.
func startEmbeddedEtcd(dir string) (*embeddedEtcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the embedded etcd directory: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[1]))}

	cfg := embed.NewConfig()
	cfg.Name = "notification-apiserver"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	// A single member has no follower to catch up. etcd 3.7 compacts its
	// raft log in memory every 100 entries down to the last
	// SnapshotCatchUpEntries: with the defaults (5,000 of them) the log
	// held after a burst of events cost about 20 MiB for nothing.
	// SnapshotCount sets only the snapshots to disk (each a forced backend
	// commit and a snap file, both under 8 ms in make bench's steady
	// step), after which older WAL files may go and which bound the log a
	// restart replays.
	cfg.SnapshotCount = 1000
	cfg.SnapshotCatchUpEntries = 100
	// Each restart gets new ports: let the member's recorded peer URL follow.
	cfg.StrictReconfigCheck = false

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready within 60s", dir)
	}
	return &embeddedEtcd{etcd: e}, nil
}

// ClientURL is where the API server reaches etcd.
func (e *embeddedEtcd) ClientURL() string {
	return "http://" + e.etcd.Clients[0].Addr().String()
}

// InProcessClient is a client that calls the etcd server in this process
// directly: no gRPC, no loopback connection. Close it before the server.
func (e *embeddedEtcd) InProcessClient() *clientv3.Client {
	return v3client.New(e.etcd.Server)
}

// InProcessKV is the KV API InProcessClient calls.
func (e *embeddedEtcd) InProcessKV() etcdserverpb.KVClient {
	return adapter.KvServerToKvClient(v3rpc.NewQuotaKVServer(e.etcd.Server))
}

// Close stops etcd after flushing its data.
func (e *embeddedEtcd) Close() {
	e.etcd.Close()
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port for embedded etcd: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

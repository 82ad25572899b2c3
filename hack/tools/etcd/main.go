// Command etcd runs the real etcd server (go.etcd.io/etcd/server/v3/embed)
// on loopback for the local control plane's kube-apiserver. It is not shipped.
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "etcd-data", "directory for etcd's data")
	client := flag.String("listen-client-url", "http://127.0.0.1:2379", "URL to serve clients on")
	peer := flag.String("listen-peer-url", "http://127.0.0.1:2380", "URL to serve peers on")
	noFsync := flag.Bool("unsafe-no-fsync", true, "do not sync the log to disk: faster, for throwaway local data; "+
		"false syncs each write as a production etcd does (make bench, where the kube-apiserver's CRDs are a peer)")
	flag.Parse()

	cu, err := url.Parse(*client)
	if err != nil {
		log.Fatalf("parsing -listen-client-url: %v", err)
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		log.Fatalf("parsing -listen-peer-url: %v", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "local"
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = *noFsync
	cfg.LogLevel = "warn"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("starting etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		log.Printf("etcd ready on %s", cu)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		log.Fatal("etcd took too long to start")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-e.Err():
		log.Printf("etcd: %v", err)
	}
	e.Close()
}

package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/customs-sec/customs"
	"github.com/customs-sec/customs/inspect"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationsAreIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		open(t, url).Close()
		s := open(t, url) // second open: nothing to migrate, nothing lost
		if _, err := s.CreateToken(context.Background(), "a", store.RoleViewer, []string{"t"}, "secret-a"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTokensAreHashedAndRevocable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := open(t, url)
		secret := store.NewTokenSecret()
		tok, err := s.CreateToken(ctx, "ci", store.RoleDeveloper, []string{"payments", "web"}, secret)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenBySecret(ctx, secret)
		if err != nil || got.ID != tok.ID || !got.CanSee("web") || got.CanSee("other") {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		if _, err := s.TokenBySecret(ctx, secret+"x"); err != store.ErrNotFound {
			t.Fatalf("a wrong secret found a token: %v", err)
		}
		if err := s.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenBySecret(ctx, secret); err != store.ErrNotFound {
			t.Fatalf("a revoked token still works: %v", err)
		}
	})
}

func TestLeasesNeverHandOneJobToTwoWorkers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		a, b := open(t, url), open(t, url) // two replicas on one database
		const n = 40
		for i := range n {
			if _, err := a.Enqueue(ctx, "scan", fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var wg sync.WaitGroup
		for w, s := range []*store.Store{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("worker-%d", w)
				for {
					j, err := s.Lease(ctx, owner, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if j == nil {
						return
					}
					mu.Lock()
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %d leased by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
					mu.Unlock()
					if err := s.Finish(ctx, j.ID, owner, store.JobDone, "ok"); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d of %d jobs done", len(seen), n)
		}
	})
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := open(t, url)
		id, _ := s.Enqueue(ctx, "reeval", "{}")
		j, err := s.Lease(ctx, "dead-worker", time.Millisecond)
		if err != nil || j == nil || j.ID != id {
			t.Fatalf("lease: %+v %v", j, err)
		}
		time.Sleep(20 * time.Millisecond) // the worker died; its lease runs out
		j2, err := s.Lease(ctx, "new-worker", time.Minute)
		if err != nil || j2 == nil || j2.ID != id || j2.Attempts != 2 {
			t.Fatalf("expired lease not taken over: %+v %v", j2, err)
		}
		if ok, _ := s.Renew(ctx, id, "dead-worker", time.Minute); ok {
			t.Fatal("the dead worker renewed a lease it lost")
		}
		s.Finish(ctx, id, "dead-worker", store.JobDone, "late") // ignored: not the owner
		if got, _ := s.Job(ctx, id); got.State != store.JobRunning {
			t.Fatalf("a lost owner finished the job: %+v", got)
		}
		s.Finish(ctx, id, "new-worker", store.JobDone, "ok")
		if got, _ := s.Job(ctx, id); got.State != store.JobDone || got.Result != "ok" {
			t.Fatalf("finish: %+v", got)
		}
	})
}

func inventory(pkgs ...string) *customs.Inventory {
	inv := &customs.Inventory{Distro: &customs.Distro{ID: "debian", VersionID: "12"}}
	for _, p := range pkgs {
		inv.Packages = append(inv.Packages, customs.Package{Name: p, Version: "1.0", Type: "deb", Source: p + "-src"})
	}
	return inv
}

func judgement(decision string, vulns ...string) store.Judgement {
	sc := &customs.ScanResult{}
	for _, v := range vulns {
		sc.Findings = append(sc.Findings, customs.Finding{ID: v, Package: customs.PackageRef{Name: "openssl"}, Severity: customs.SeverityHigh, Fixed: "2"})
	}
	return store.Judgement{Scan: sc, Verdict: &policy.Verdict{Decision: decision}}
}

func TestImagesIndexSummaryAndHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := open(t, url)
		a, err := s.SaveImage(ctx, store.ImageMeta{Digest: "sha256:a", Ref: "r/a:1", Repository: "r/a", Team: "web", BaseLayer: "sha256:base"},
			inventory("openssl", "zlib"), judgement(policy.Deny, "CVE-1"), "scan")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.SaveImage(ctx, store.ImageMeta{Digest: "sha256:b", Ref: "r/b:1", Repository: "r/b", Team: "payments", BaseLayer: "sha256:base"},
			inventory("openssl"), judgement(policy.Allow), "scan")
		s.SaveImage(ctx, store.ImageMeta{Digest: "sha256:c", Ref: "r/c:1", Repository: "r/c", Team: "web", BaseLayer: "sha256:other"},
			inventory("curl"), judgement(policy.Allow), "scan")

		ids, err := s.ImagesWithPackages(ctx, [][2]string{{"Debian:12", "openssl-src"}})
		if err != nil || len(ids) != 2 || ids[0] != a || ids[1] != b {
			t.Fatalf("images with source package openssl-src: %v %v (want %d, %d)", ids, err, a, b)
		}
		web, _ := s.Images(ctx, store.ImageFilter{Teams: []string{"web"}})
		if len(web) != 2 {
			t.Fatalf("team scope: %d images", len(web))
		}
		denied, _ := s.Images(ctx, store.ImageFilter{Decision: policy.Deny, HasFix: true, Severity: customs.SeverityHigh})
		if len(denied) != 1 || denied[0].Digest != "sha256:a" {
			t.Fatalf("filters: %+v", denied)
		}
		vi, _ := s.VulnerabilityImages(ctx, "CVE-1", []string{"payments"})
		if len(vi) != 0 {
			t.Fatalf("a payments token sees web's vulnerability: %+v", vi)
		}
		if err := s.UpdateJudgement(ctx, b, inventory("openssl"), judgement(policy.Deny, "CVE-2"), "advisory delta", []string{"CVE-2 openssl"}, nil, true); err != nil {
			t.Fatal(err)
		}
		d, err := s.Image(ctx, "sha256:b", true)
		if err != nil || d.Decision != policy.Deny || len(d.History) != 2 || d.History[1].Added[0] != "CVE-2 openssl" || len(d.Inventory.Packages) != 1 {
			t.Fatalf("detail after re-judging: %+v %v", d, err)
		}
		sum, err := s.Summarize(ctx, []string{store.AllTeams})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Images != 3 || sum.Denied != 2 || len(sum.ByBaseImage) != 2 || sum.ByBaseImage[0].Key != "sha256:base" || sum.ByBaseImage[0].Images != 2 {
			t.Fatalf("summary: %+v", sum)
		}
	})
}

func TestLayerCacheRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		c := store.LayerCache{S: open(t, url)}
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("empty cache hit")
		}
		lr := &inspect.LayerResult{Index: 1, DiffID: "sha256:x", Paths: []uint64{1, 2, 3}, Entries: 3}
		c.Put(ctx, "k", lr)
		c.Put(ctx, "k", lr) // a second replica caching the same layer
		got, ok := c.Get(ctx, "k")
		if !ok || got.DiffID != "sha256:x" || len(got.Paths) != 3 {
			t.Fatalf("cache: %+v %v", got, ok)
		}
	})
}

func TestDeliveriesSurviveAndAreClaimedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		s := open(t, url)
		w := &store.Webhook{URL: "http://127.0.0.1:1/hook", Secret: "s", Team: "*", Events: []string{"image.verdict_changed"}}
		if err := s.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		s.AddDelivery(ctx, w.ID, "image.verdict_changed", `{"a":1}`)
		d, err := s.ClaimDelivery(ctx, time.Minute)
		if err != nil || d == nil {
			t.Fatalf("claim: %v %v", d, err)
		}
		if again, _ := s.ClaimDelivery(ctx, time.Minute); again != nil {
			t.Fatal("a claimed delivery was claimed again within its lease")
		}
		// A restart: the process died mid-delivery; after the lease it is due again.
		s.DeliveryResult(ctx, d.ID, store.DeliveryPending, 0, "crashed", time.Now().Add(-time.Second))
		s2 := open(t, url)
		d2, _ := s2.ClaimDelivery(ctx, time.Minute)
		if d2 == nil || d2.ID != d.ID || d2.Attempts != 2 {
			t.Fatalf("pending delivery not resumed: %+v", d2)
		}
		s2.DeliveryResult(ctx, d2.ID, store.DeliveryDelivered, 200, "", time.Now())
		log, _ := s2.Deliveries(ctx, w.ID, 0, 10)
		if len(log) != 1 || log[0].State != store.DeliveryDelivered || log[0].LastStatus != 200 {
			t.Fatalf("delivery log: %+v", log)
		}
	})
}

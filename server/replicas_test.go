package server_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-sec/customs/advisory"
	"github.com/customs-sec/customs/internal/testimage"
	"github.com/customs-sec/customs/policy"
	"github.com/customs-sec/customs/sbom"
	"github.com/customs-sec/customs/server"
	"github.com/customs-sec/customs/server/store"
	"github.com/customs-sec/customs/server/store/storetest"
)

// replicaAdmin is the admin token the replica and crash tests bootstrap
// with (kept apart from server_test.go's helpers on purpose).
const replicaAdmin = "cst_replica_admin_secret_0123456789abcdef"

// permissivePolicyData turns off every rule but vulnerabilities, so
// verdicts depend on advisories alone.
const permissivePolicyData = "customs:\n  settings:\n    signature: {enabled: false}\n    root_user: {enabled: false}\n    secrets: {enabled: false}\n    misconfigurations: {enabled: false}\n"

// replica is one in-process server replica with its own HTTP listener,
// advisory database and layer-read log.
type replica struct {
	t    *testing.T
	name string
	url  string

	mu    sync.Mutex
	reads map[string]int // diff ID → times this replica read the layer
}

func startReplica(t *testing.T, dbURL, name string) *replica {
	t.Helper()
	return startReplicaWith(t, dbURL, name, true)
}

// startReplicaWith starts a replica; without workers it only serves the
// API (as a replica whose workers are all busy would, for a while).
func startReplicaWith(t *testing.T, dbURL, name string, workers bool) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := advisory.Open(ctx, filepath.Join(t.TempDir(), "adv.db"), advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "permissive.yaml")
	if err := os.WriteFile(data, []byte(permissivePolicyData), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := policy.New(ctx, policy.Options{DataFiles: []string{data}})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{t: t, name: name, reads: map[string]int{}}
	srv, err := server.New(server.Config{Store: st, DB: db, Policy: eng, Workers: 2, PollInterval: 20 * time.Millisecond, ReplicaID: name,
		OnLayerRead: func(_ int, diffID string) { r.mu.Lock(); r.reads[diffID]++; r.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	srv.AllowInsecureRegistries()
	if _, err := srv.Bootstrap(ctx, replicaAdmin); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	wg := &sync.WaitGroup{}
	if workers {
		wg = srv.Start(ctx)
	}
	t.Cleanup(func() { hs.Close(); cancel(); wg.Wait(); db.Close(); st.Close() })
	r.url = hs.URL
	return r
}

func (r *replica) layerReads() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.reads))
	for k, v := range r.reads {
		out[k] = v
	}
	return out
}

// apiCall makes one API request against base with the admin token and
// decodes a JSON answer into out; it returns the status code.
func apiCall(t testing.TB, base, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+replicaAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil && resp.StatusCode < 300 {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// metricValues reads a replica's /metrics and returns the samples of one
// metric by their label string (`{kind="scan",state="done"}`, or "" for
// a metric without labels).
func metricValues(t testing.TB, base, metric string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		labels := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			labels, rest = rest[:end+1], rest[end+1:]
		} else if !strings.HasPrefix(rest, " ") {
			continue // a longer metric name
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			out[labels] = v
		}
	}
	return out
}

// TestReplicasShareTheQueueWithoutDoubleScans runs two replicas on one
// database, submits a batch of distinct images through both, and checks
// every scan job ran exactly once: one lease each, one stored judgement per
// image, each image's own layer read once across both replicas, and the
// replicas' job counters adding up to the batch.
func TestReplicasShareTheQueueWithoutDoubleScans(t *testing.T) {
	layout := testimage.Layout(t)
	reg := testimage.Registry(t)
	bases := []string{"debian-base", "debian-app", "scratch-go"}
	baseImg := map[string]v1.Image{}
	for _, b := range bases {
		baseImg[b] = testimage.LayoutImage(t, layout, b)
	}

	// Distinct images: a corpus image with a layer of its own on top, so
	// every image has one layer no other image shares.
	const n = 18
	type pushed struct {
		ref, digest, ownLayer string
	}
	var imgs []pushed
	for i := range n {
		base := bases[i%len(bases)]
		lt := testimage.LayerTar(t, []testimage.File{
			{Name: "srv/", Type: tar.TypeDir},
			{Name: "srv/build-id", Body: fmt.Sprintf("replica test image %d\n", i)},
		})
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(lt)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.Append(baseImg[base], mutate.Addendum{Layer: layer, History: v1.History{CreatedBy: "replica test layer"}})
		if err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("%s/replicas/%s-%d:1", reg, base, i)
		testimage.Push(t, img, ref)
		d, _ := img.Digest()
		diffID, _ := layer.DiffID()
		imgs = append(imgs, pushed{ref: ref, digest: d.String(), ownLayer: diffID.String()})
	}

	storetest.Each(t, func(t *testing.T, dbURL string) {
		start := time.Now()
		reps := []*replica{startReplica(t, dbURL, "replica-a"), startReplica(t, dbURL, "replica-b")}

		// Submit through both replicas, alternating; the queue is shared.
		jobs := make([]int64, n)
		for i, im := range imgs {
			var resp struct{ Job int64 }
			if c := apiCall(t, reps[i%2].url, "POST", "/api/v1/images", map[string]string{"ref": im.ref, "team": "platform"}, &resp); c != 202 || resp.Job == 0 {
				t.Fatalf("submit %s through %s: %d", im.ref, reps[i%2].name, c)
			}
			jobs[i] = resp.Job
		}
		seenJob := map[int64]bool{}
		for _, id := range jobs {
			if seenJob[id] {
				t.Fatalf("job id %d given to two submissions", id)
			}
			seenJob[id] = true
		}

		// Wait for the queue to drain, asking either replica.
		final := make([]store.Job, n)
		deadline := time.Now().Add(4 * time.Minute)
		for i, id := range jobs {
			for {
				var j store.Job
				apiCall(t, reps[(i+1)%2].url, "GET", fmt.Sprintf("/api/v1/jobs/%d", id), nil, &j)
				if j.State == store.JobDone || j.State == store.JobFailed {
					final[i] = j
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job %d (%s) still %s", id, imgs[i].ref, j.State)
				}
				time.Sleep(30 * time.Millisecond)
			}
		}
		took := time.Since(start)

		// Every job: done once, by one lease, naming its image.
		for i, j := range final {
			if j.State != store.JobDone {
				t.Errorf("job %d (%s): %s: %s", j.ID, imgs[i].ref, j.State, j.Result)
				continue
			}
			if j.Attempts != 1 {
				t.Errorf("job %d (%s) was leased %d times; each job must run once", j.ID, imgs[i].ref, j.Attempts)
			}
			if j.Result != imgs[i].digest {
				t.Errorf("job %d (%s) stored %q, want the image's digest %s", j.ID, imgs[i].ref, j.Result, imgs[i].digest)
			}
		}

		// Every image stored once: one image row each, one history entry
		// (a second scan of the same job would add a second).
		var list struct{ Images []store.ImageRow }
		apiCall(t, reps[0].url, "GET", "/api/v1/images?limit=1000", nil, &list)
		if len(list.Images) != n {
			t.Errorf("%d images stored, want %d", len(list.Images), n)
		}
		for _, im := range imgs {
			var d store.ImageDetail
			if c := apiCall(t, reps[1].url, "GET", "/api/v1/images/"+im.digest, nil, &d); c != 200 {
				t.Errorf("%s not stored: %d", im.ref, c)
				continue
			}
			if len(d.History) != 1 {
				t.Errorf("%s has %d history entries, want 1 (one scan): %+v", im.ref, len(d.History), d.History)
			}
			if d.Ref != im.ref || d.Team != "platform" {
				t.Errorf("%s stored as ref %q team %q", im.ref, d.Ref, d.Team)
			}
		}

		// Layers: each image's own layer read exactly once across both
		// replicas (two replicas running one job would both read it);
		// shared corpus layers may be read by workers that missed the
		// cache together, which is not a double scan, so only logged.
		reads := []map[string]int{reps[0].layerReads(), reps[1].layerReads()}
		for _, im := range imgs {
			if got := reads[0][im.ownLayer] + reads[1][im.ownLayer]; got != 1 {
				t.Errorf("%s: its own layer was read %d times (a: %d, b: %d), want once", im.ref, got, reads[0][im.ownLayer], reads[1][im.ownLayer])
			}
		}
		own := map[string]bool{}
		for _, im := range imgs {
			own[im.ownLayer] = true
		}
		var shared []string
		for _, r := range reads {
			for d := range r {
				if !own[d] {
					shared = append(shared, d)
				}
			}
		}
		sort.Strings(shared)
		shared = compactStrings(shared)
		for _, d := range shared {
			t.Logf("shared layer %s…: read %d× by a, %d× by b", d[:19], reads[0][d], reads[1][d])
		}

		// The replicas' counters add up to the batch: no job finished twice.
		total, split := 0.0, []string{}
		for _, r := range reps {
			done := metricValues(t, r.url, "customs_jobs_total")[`{kind="scan",state="done"}`]
			failed := metricValues(t, r.url, "customs_jobs_total")[`{kind="scan",state="failed"}`]
			stored := metricValues(t, r.url, "customs_images_stored_total")[""]
			if failed != 0 {
				t.Errorf("%s failed %v scan jobs", r.name, failed)
			}
			if stored != done {
				t.Errorf("%s finished %v scan jobs but stored %v images", r.name, done, stored)
			}
			total += done
			ownReads := 0
			for _, im := range imgs {
				ownReads += r.layerReads()[im.ownLayer]
			}
			split = append(split, fmt.Sprintf("%s: %v jobs, %d own layers read", r.name, done, ownReads))
		}
		if total != n {
			t.Errorf("the replicas finished %v scan jobs between them, want %d", total, n)
		}
		t.Logf("%d jobs in %s; split %s", n, took.Round(time.Millisecond), strings.Join(split, "; "))
	})
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// TestReplicasJudgeWithAdvisoriesPostedToAnotherReplica: an advisory
// posted to one replica must reach the stored images whichever replica runs
// the re-evaluation. Here the replica that accepted it has no free worker,
// so the other one takes the job from the shared queue.
func TestReplicasJudgeWithAdvisoriesPostedToAnotherReplica(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		a := startReplicaWith(t, dbURL, "replica-a", false)
		b := startReplica(t, dbURL, "replica-b")
		inv := crashInventory(0)
		var buf bytes.Buffer
		if err := sbom.Encode(&buf, inv, sbom.FormatCycloneDX); err != nil {
			t.Fatal(err)
		}
		var row store.ImageRow
		if c := apiCall(t, a.url, "POST", "/api/v1/inventories?team=platform&ref="+inv.Image.Ref, buf.Bytes(), &row); c != 201 || row.Decision != policy.Allow {
			t.Fatalf("SBOM: %d, decision %s", c, row.Decision)
		}
		var imp struct {
			Job int64 `json:"reevaluation_job"`
		}
		if c := apiCall(t, a.url, "POST", "/api/v1/advisories", crashAdvisory("CUSTOMS-REPLICA-1", "1.0-2"), &imp); c != 200 || imp.Job == 0 {
			t.Fatalf("advisory: %d %+v", c, imp)
		}
		j := waitJobDone(t, b.url, imp.Job, time.Minute)
		t.Logf("re-evaluation job on replica-b: %s: %s", j.State, j.Result)
		for _, r := range []*replica{a, b} {
			var img store.ImageDetail
			apiCall(t, r.url, "GET", "/api/v1/images/"+row.Digest, nil, &img)
			found := false
			for _, f := range img.Scan.Findings {
				found = found || f.ID == "CUSTOMS-REPLICA-1"
			}
			if img.Decision != policy.Deny || !found {
				t.Errorf("seen through %s: decision %s, finding present %v; the advisory posted to replica-a never reached the image "+
					"(replica-b re-judged it with its own advisory database, which lacks the advisory)", r.name, img.Decision, found)
			}
		}
	})
}

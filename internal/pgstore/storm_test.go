package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/store/storetest"
)

// TestStormIsClaimedByOneReplica: replicas that wake together to claim a storm do not
// split it — one claim takes every due event (up to its max), so the storm is one
// digest per channel, as with a single replica, not one per replica. Claims are
// serialised in the database for that.
func TestStormIsClaimedByOneReplica(t *testing.T) {
	name := schema(t)
	var replicas []*Store
	for i := range 4 {
		s, err := Open(context.Background(), testURL(), Options{Schema: name, Replica: fmt.Sprintf("replica-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		replicas = append(replicas, s)
	}
	const storm = 40
	for round := range 10 {
		for i := range storm {
			if _, _, err := replicas[0].Accept(storetest.Event(round*1000+i), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		got := make([][]store.Record, len(replicas))
		start := make(chan struct{})
		for i, s := range replicas {
			wg.Go(func() {
				<-start
				recs, err := s.Claim(time.Now(), 50, time.Minute)
				if err != nil {
					t.Error(err)
				}
				got[i] = recs
			})
		}
		close(start)
		wg.Wait()
		var sizes []int
		split := 0
		for i, recs := range got {
			sizes = append(sizes, len(recs))
			if len(recs) > 0 {
				split++
			}
			if err := replicas[i].UpdateMany(ids(recs), func(r *store.Record) error { r.State = store.Delivered; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if split != 1 {
			t.Fatalf("round %d: the storm of %d was split over replicas: %v", round, storm, sizes)
		}
	}
}

func ids(recs []store.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

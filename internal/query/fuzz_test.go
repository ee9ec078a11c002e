package query_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/actlog/actlog/internal/event"
	"github.com/actlog/actlog/internal/query"
)

// FuzzAnalysisRequests feeds request bodies, as the API receives them from
// outside, to every analysis over a small store: each must answer or refuse
// the request as invalid (400), never fail inside (a 500) or panic.
func FuzzAnalysisRequests(f *testing.F) {
	seeds := []struct {
		kind uint8
		body string
	}{
		{0, `{"steps":[{"event":"page_view","where":[{"field":"page_path","op":"eq","value":"/event/summer"}]},{"event":"payment_success"}],"window_seconds":3600,"breakdown":"banner"}`},
		{0, `{"steps":[{"event":"a","where":[{"field":"properties.x\"y","op":"in","value":["1",2,true]}]}],"by":"session"}`},
		{0, `{"steps":[{"event":"a","where":[{"field":"ts","op":"gt","value":"2026-01-01T00:00:00Z"},{"field":"seq","op":"lt","value":3}]}]}`},
		{1, `{"id":"m1","limit":5}`},
		{2, `{"by":"page_path","until":"next_view","where":[{"field":"properties.plan","op":"contains","value":"ann"}]}`},
		{3, `{"page":{"event":"page_view"},"conversion":{"event":"payment_success"},"window_seconds":60}`},
		{4, `{"conversion":{"event":"payment_success"},"touch":"banner","model":"first"}`},
		{5, `{"start":{"event":"banner_click"},"by":"page_path","depth":3,"limit":1}`},
		{6, `{"start_event":"identify","return_event":"read","period":"week","periods":3}`},
		{7, `{"limit":2,"cursor":"eyJ0IjoxLCJpIjoiYSIsInMiOiJ3ZWIifQ","where":[{"field":"event","op":"neq","value":"x"}]}`},
		{0, `{"from":"2026-13-01T00:00:00Z","steps":[{"event":"a"}]}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	st := openStore(f)
	ctx := context.Background()
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	var batch event.Batch
	for i, name := range []string{"page_view", "banner_click", "payment_success", "identify", "read"} {
		e := event.Event{EventID: "f" + name, Source: "web", Type: event.Track, Event: name, AnonymousID: "a1", UserID: "",
			SessionID: "s1", TS: now.Add(time.Duration(i) * time.Minute), ReceivedAt: now,
			PagePath: "/event/summer", Banner: "summer", Properties: json.RawMessage(`{"plan":"annual","x\"y":"1"}`), Context: json.RawMessage(`{}`)}
		if name == "identify" {
			e.Type, e.UserID = event.Identify, "m1"
		}
		batch.Events = append(batch.Events, e)
	}
	if err := st.Write(ctx, &batch); err != nil {
		f.Fatal(err)
	}
	eng := query.New(st.DB(), query.Options{Now: func() time.Time { return now.Add(time.Hour) }})
	names := []string{"funnel", "journey", "dwell", "dropoff", "attribution", "paths", "retention", "events"}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		_, err := run(ctx, eng, names[int(kind)%len(names)], body)
		if err != nil && !query.IsInvalid(err) && !isRequestDecode(err) {
			t.Fatalf("%s %q: %v", names[int(kind)%len(names)], body, err)
		}
	})
}

// isRequestDecode reports a body that is not JSON of the request's shape:
// the API answers it 400 before any analysis runs.
func isRequestDecode(err error) bool {
	return err != nil && len(err.Error()) > 8 && err.Error()[:8] == "request:"
}

package ingest

import "testing"

func TestReasonClass(t *testing.T) {
	for _, c := range []struct{ reason, want string }{
		{"event name is required for track", "missing_field"},
		{"anonymousId or userId is required", "missing_field"},
		{"messageId longer than 200 bytes", "too_large"},
		{"event larger than 32768 bytes", "too_large"},
		{"userId is not valid UTF-8 text", "invalid_text"},
		{"unknown type \"pageview\"", "unknown_type"},
		{`timestamp: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`, "invalid_time"},
		{"properties holds NaN or Infinity, which JSON does not allow", "invalid_number"},
		{"type must be a string", "wrong_type"},
		{"properties must be an object", "wrong_type"},
		{"something new", "other"},
	} {
		if got := reasonClass(c.reason); got != c.want {
			t.Errorf("reasonClass(%q) = %q, want %q", c.reason, got, c.want)
		}
	}
}

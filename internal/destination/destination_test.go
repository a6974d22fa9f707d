package destination

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	teamsURL = "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRET-SIG-9f2"
	pdKey    = "R0UT1NGKEY0123456789abcdef012345"
	whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func TestClassify(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", "7")
	cases := []struct {
		status    int
		header    http.Header
		permanent bool
		wait      time.Duration
	}{
		{429, h, false, 7 * time.Second},
		{429, http.Header{}, false, 5 * time.Second},
		{500, nil, false, 0},
		{503, nil, false, 0},
		{408, nil, false, 0},
		{400, nil, true, 0},
		{404, nil, true, 0},
		{413, nil, true, 0},
	}
	for _, tc := range cases {
		e := FromAnswer("d", tc.status, tc.header, "body\nmore")
		if e.Permanent != tc.permanent || e.RetryAfter != tc.wait || e.Reason != "body" {
			t.Errorf("%d: %+v", tc.status, e)
		}
	}
	if e := FromNetwork("d", &url.Error{Op: "Post", URL: teamsURL, Err: errors.New("i/o timeout")}); strings.Contains(e.Error(), "SECRET-SIG") {
		t.Errorf("a network error shows the URL's signature: %v", e)
	}
	var err error = FromNetwork("d", errors.New("connection refused"))
	if de, ok := AsError(err); !ok || de.Permanent || de.Status != 0 {
		t.Errorf("network: %+v", de)
	}
}

// TestUserAgent: requests through WithUserAgent say tabhook's name, whatever the
// library set.
func TestUserAgent(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.UserAgent() }))
	defer srv.Close()
	hc := WithUserAgent(nil, "tabhook/1.2.3")
	req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
	req.Header.Set("User-Agent", "go-pagerduty/1.8")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "tabhook/1.2.3" {
		t.Errorf("User-Agent %q", got)
	}
}

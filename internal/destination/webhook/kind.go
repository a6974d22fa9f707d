package webhook

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/tabhook/tabhook/internal/destination"
)

// Kind registers the webhook destination type:
//
//	audit: {type: webhook, url: https://audit.example.com/tableau, secret-file: /etc/tabhook/credentials/audit-secret}
func Kind() destination.Kind {
	return destination.Kind{
		Type: "webhook",
		Settings: []destination.Setting{
			{Key: "url", File: "url-file", What: "the receiver's https URL", Required: true},
			{Key: "secret", File: "secret-file", What: "the signing secret (whsec_ and base64)", Secret: true, Required: true},
		},
		Address: "url",
		Check: func(v map[string]string) error {
			if err := destination.CheckURL(v["url"]); err != nil {
				return fmt.Errorf("url: %w", err)
			}
			if _, err := SecretKey(v["secret"]); err != nil {
				return fmt.Errorf("secret: %w", err)
			}
			return nil
		},
		New: func(c destination.Config, hc *http.Client) (destination.Sender, error) {
			return New(c.Name, c.Value("url"), c.Value("secret"), hc)
		},
	}
}

// SecretKey decodes a Standard Webhooks secret: "whsec_" and base64 of 24 to 64 bytes.
func SecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("not a Standard Webhooks secret: want whsec_ and the base64 of 24 to 64 random bytes (make one with: echo whsec_$(openssl rand -base64 32))")
	}
	return key, nil
}

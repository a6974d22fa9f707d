package spool

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tabhook/tabhook/internal/store"
)

// encodeNew writes a just-accepted record in its disk form (record) as JSON without reflection: it is on every
// acknowledgement's path. It yields what encoding/json would decode back to the same
// record (a test holds it to that).
func encodeNew(rec store.Record) []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, rec.ID, 10)
	b = append(b, `,"key":`...)
	b = appendString(b, rec.Key)
	if rec.Destination != "" {
		b = append(b, `,"destination":`...)
		b = appendString(b, rec.Destination)
	}
	p := rec.Payload
	b = append(b, `,"payload":{"resource":`...)
	b = appendString(b, p.Resource)
	b = append(b, `,"event_type":`...)
	b = appendString(b, p.EventType)
	b = append(b, `,"resource_name":`...)
	b = appendString(b, p.ResourceName)
	b = append(b, `,"site_luid":`...)
	b = appendString(b, p.SiteLUID)
	b = append(b, `,"resource_luid":`...)
	b = appendString(b, p.ResourceLUID)
	b = append(b, `,"created_at":`...)
	b = appendString(b, p.CreatedAt)
	if p.Text != "" {
		b = append(b, `,"text":`...)
		b = appendString(b, p.Text)
	}
	if p.Site != "" {
		b = append(b, `,"tabhook_site":`...)
		b = appendString(b, p.Site)
	}
	b = append(b, `},"received_at":"`...)
	b = rec.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","state":`...)
	b = appendString(b, string(rec.State))
	return append(b, '}')
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

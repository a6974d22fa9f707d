package actions

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/store"
)

// mute is an item's mute as the store keeps it (key MuteKey): replicas and restarts
// agree on it.
type mute struct {
	Until time.Time `json:"until"`
	By    string    `json:"by"`
	Held  int       `json:"held"` // alerts held back so far
}

// MuteKey is the store key of an item's mute.
func MuteKey(it render.Item) string { return "mute/" + it.Value() }

func (h *Handler) mute(it render.Item, user string, done *Done) string {
	until := h.cfg.Now().Add(MuteFor)
	_, err := h.cfg.Store.UpdateItem(MuteKey(it), func(old []byte) ([]byte, error) {
		m := mute{Until: until, By: user}
		if old != nil {
			_ = json.Unmarshal(old, &m) // held so far stays counted
			m.Until, m.By = until, user
		}
		return json.Marshal(m)
	})
	if err != nil {
		done.Result, done.Detail = "failed", err.Error()
		return ""
	}
	done.Result = "muted"
	return fmt.Sprintf(":mute: Muted for 24 h by <@%s> at %s: its failures are held back until %s", user, h.stamp(), until.UTC().Format("2006-01-02 15:04 MST"))
}

func (h *Handler) unmute(it render.Item, user string, done *Done) string {
	var held int
	_, err := h.cfg.Store.UpdateItem(MuteKey(it), func(old []byte) ([]byte, error) {
		var m mute
		if old != nil && json.Unmarshal(old, &m) == nil {
			held = m.Held
		}
		return nil, nil
	})
	if err != nil {
		done.Result, done.Detail = "failed", err.Error()
		return ""
	}
	done.Result = "unmuted"
	note := fmt.Sprintf(":loud_sound: Unmuted by <@%s> at %s", user, h.stamp())
	if held > 0 {
		note += fmt.Sprintf(": %d %s held back while muted", held, plural(held, "failure was", "failures were"))
	}
	return note
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Hold is what delivery asks of an item's failure: muted reports that its alert is to
// be held back now (counted with the mute); heldBefore is how many a mute that has
// since ended held back — the next alert says so — and the ended mute is removed. An
// item never muted costs one read.
func Hold(st store.Store, it render.Item, now time.Time) (muted bool, heldBefore int, err error) {
	key := MuteKey(it)
	b, err := st.Item(key)
	if err != nil || b == nil {
		return false, 0, err
	}
	_, err = st.UpdateItem(key, func(old []byte) ([]byte, error) {
		var m mute
		if old == nil || json.Unmarshal(old, &m) != nil {
			return nil, nil
		}
		if now.Before(m.Until) {
			m.Held++
			muted, heldBefore = true, 0
			return json.Marshal(m)
		}
		muted, heldBefore = false, m.Held
		return nil, nil
	})
	return muted, heldBefore, err
}

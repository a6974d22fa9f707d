package render

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// The action IDs of the buttons a failed refresh's message offers (--actions); Slack
// sends them back in its interactivity requests.
const (
	ActionRefresh = "tabhook_refresh"
	ActionMute    = "tabhook_mute"
	ActionUnmute  = "tabhook_unmute"
	ActionAck     = "tabhook_ack"
)

// ActionsBlockID names the block of a message's buttons, and NotesBlockID the context
// block where what was done from the message is said ("Refresh requested by …").
const (
	ActionsBlockID = "tabhook_actions"
	NotesBlockID   = "tabhook_action_notes"
)

// Item is what a button acts on: a site's workbook or data source, and its name as the
// message showed it (for saying which one was acted on in a digest).
type Item struct {
	Site, Kind, ID string
	Name           string
}

// maxButtonName is how much of the name a button's value carries (Slack allows 2,000
// characters a value).
const maxButtonName = 200

// Value is the item's identity: site/kind/id (names can change; this cannot).
func (i Item) Value() string { return i.Site + "/" + i.Kind + "/" + i.ID }

// ButtonValue is what a button carries: site/kind/id/name.
func (i Item) ButtonValue() string { return i.Value() + "/" + text.Cut(i.Name, maxButtonName) }

// ParseItem reads a button's value (site/kind/id, then the name if any).
func ParseItem(v string) (Item, error) {
	parts := strings.SplitN(v, "/", 4)
	if len(parts) < 3 || parts[0] == "" || parts[2] == "" || (parts[1] != "workbook" && parts[1] != "datasource") {
		return Item{}, fmt.Errorf("not a tabhook item: %q", v)
	}
	it := Item{Site: parts[0], Kind: parts[1], ID: parts[2]}
	if len(parts) == 4 {
		it.Name = parts[3]
	}
	return it, nil
}

// ItemOf is the item an event is about.
func ItemOf(f enrich.Facts) Item {
	return Item{Site: f.Payload.SiteLUID, Kind: f.Kind, ID: f.Payload.ResourceLUID, Name: words.Name(f)}
}

// Actionable reports whether a message offers buttons for the event: a failed refresh
// of a workbook or data source, with --actions.
func Actionable(f enrich.Facts) bool {
	return f.Actions && f.IsFailure() && (f.Kind == "workbook" || f.Kind == "datasource")
}

func button(id, label, value string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(id, value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	b.Style = style
	return b
}

// actionButtons are a failed refresh's buttons: run it again, mute, acknowledge.
func actionButtons(f enrich.Facts) []slack.BlockElement {
	v := ItemOf(f).ButtonValue()
	return []slack.BlockElement{
		button(ActionRefresh, "Run refresh now", v, slack.StylePrimary),
		button(ActionMute, "Mute 24 h", v, ""),
		button(ActionAck, "Acknowledge", v, ""),
	}
}

// SwapMute turns the Mute button carrying value into Unmute (muted true) or back, in
// place: in a digest, only the clicked item's.
func SwapMute(blocks []slack.Block, value string, muted bool) {
	from, to, label := ActionMute, ActionUnmute, "Unmute"
	if !muted {
		from, to, label = ActionUnmute, ActionMute, "Mute 24 h"
	}
	for _, b := range blocks {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			continue
		}
		for i, el := range ab.Elements.ElementSet {
			if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == from && btn.Value == value {
				ab.Elements.ElementSet[i] = button(to, label, btn.Value, "")
			}
		}
	}
}

// Items counts the items a message has buttons for: more than one in a digest.
func Items(blocks []slack.Block) int {
	n := 0
	for _, b := range blocks {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			continue
		}
		for _, el := range ab.Elements.ElementSet {
			if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == ActionRefresh {
				n++
			}
		}
	}
	return n
}

// maxNotes is how many lines of what was done a message keeps (a context block holds
// at most 10 elements): the oldest give way.
const maxNotes = 10

// AddNote appends a line to the message's notes block ("↻ Refresh requested by <@U1>
// at 10:02 UTC"), making the block where it has none. note is mrkdwn, escaped by the
// caller.
func AddNote(blocks []slack.Block, note string) []slack.Block {
	el := mrkdwn(note)
	for _, b := range blocks {
		if cb, ok := b.(*slack.ContextBlock); ok && cb.BlockID == NotesBlockID {
			cb.ContextElements.Elements = append(cb.ContextElements.Elements, el)
			if n := len(cb.ContextElements.Elements); n > maxNotes {
				cb.ContextElements.Elements = cb.ContextElements.Elements[n-maxNotes:]
			}
			return blocks
		}
	}
	return append(blocks, slack.NewContextBlock(NotesBlockID, el))
}

package render

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// maxError is how much of Tableau's error text a message quotes.
const maxError = 1500

// suspendAfter is how many refreshes in a row may fail before Tableau Cloud suspends
// the task (Tableau Server: when an administrator has turned that on).
const suspendAfter = 5

// codeBlock quotes untrusted text as code: escaped, and unable to close the block.
func codeBlock(s string) string {
	return "```" + Escape(strings.ReplaceAll(s, "```", "'''")) + "```"
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// slackUser matches a Slack user ID, the only thing a mention is built from.
var slackUser = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// ownerText is the owner as a mention when Slack knows them, else their name.
func ownerText(f enrich.Facts) string {
	if slackUser.MatchString(f.OwnerSlackID) {
		return "<@" + f.OwnerSlackID + ">"
	}
	return Escape(f.Owner)
}

// refreshBlocks are what a refresh's outcome adds to its message: why it failed, how
// often, since when; or that it recovered.
func refreshBlocks(f enrich.Facts) []slack.Block {
	var blocks []slack.Block
	if fl := f.Failure; fl != nil && fl.Error != "" {
		text := "*Why:* " + Escape(text.Cut(words.Headline(fl.Error), 300)) + "\n" + codeBlock(text.Cut(strings.Join(words.Lines(fl.Error), "\n"), maxError))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
	}
	var facts []string
	if fl := f.Failure; fl != nil && !fl.Started.IsZero() {
		s := "Started " + clock(fl.Started)
		if d := fl.Took(); d > 0 {
			s += ", ran " + words.Duration(d)
		}
		facts = append(facts, s)
	}
	if f.Streak > 1 {
		facts = append(facts, words.Ordinal(f.Streak)+" failure in a row")
	}
	if f.IsFailure() && !f.LastSuccess.IsZero() {
		facts = append(facts, "last success "+clock(f.LastSuccess))
	}
	if f.Recovered > 0 && f.EarlierFailure != "" {
		facts = append(facts, fmt.Sprintf("Recovered after %d %s (<%s|the last one>)", f.Recovered, plural(f.Recovered, "failure"), Escape(strings.ReplaceAll(f.EarlierFailure, "|", "%7C"))))
	} else if f.Recovered > 0 {
		facts = append(facts, fmt.Sprintf("Recovered after %d %s", f.Recovered, plural(f.Recovered, "failure")))
	}
	var ctx []slack.MixedElement
	if len(facts) > 0 {
		ctx = append(ctx, mrkdwn(strings.Join(facts, " · ")))
	}
	if f.NoReason != "" {
		ctx = append(ctx, mrkdwn(":information_source: "+Escape(f.NoReason)))
	}
	if f.Warning != "" {
		ctx = append(ctx, mrkdwn(":triangular_flag_on_post: "+Escape(f.Warning)))
	}
	if len(ctx) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", ctx...))
	}
	if f.Streak >= 3 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":warning: Tableau suspends a refresh task after %d failures in a row (Tableau Cloud does; Tableau Server can be set to). Fix the cause before the next run.", suspendAfter)), nil, nil))
	}
	return blocks
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// refreshFallback adds the reason and the streak to the notification text.
func refreshFallback(f enrich.Facts) string {
	var s string
	if f.Failure != nil && f.Failure.Error != "" {
		s += " — " + words.Headline(f.Failure.Error)
	}
	if f.Streak > 1 {
		s += " (" + words.Ordinal(f.Streak) + " failure in a row)"
	}
	if f.Recovered > 0 {
		s += fmt.Sprintf(" (recovered after %d %s)", f.Recovered, plural(f.Recovered, "failure"))
	}
	return s
}

// Outcome is how a refresh that a message opened (or a failure) ended, shown by
// updating that message.
type Outcome struct {
	Event     string        // the outcome's event: …RefreshSucceeded or …RefreshFailed
	At        time.Time     // when it ended
	Took      time.Duration // how long it ran; 0 when unknown
	Recovered int           // a success after this many failures (updating a failure)
	InThread  bool          // the outcome's message is in this message's thread
}

// Updated is the root message of a refresh's thread, re-rendered to show how it ended:
// the header says the outcome, a line says when and how long, the rest is as posted.
func Updated(root enrich.Facts, o Outcome) Message {
	m := Render(root)
	said, em := words.Event(o.Event), emoji(o.Event)
	if o.Recovered > 0 {
		said, em = words.Event(root.Event)+" — recovered", ":white_check_mark:"
	}
	m.Blocks[0] = slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Cut(em+" "+said+": "+words.Name(root), maxHeader), true, false))
	var line []string
	switch {
	case o.Recovered > 0:
		line = append(line, fmt.Sprintf("Succeeded %s after %d %s in a row", clock(o.At), o.Recovered, plural(o.Recovered, "failure")))
	case strings.HasSuffix(o.Event, "Failed"):
		line = append(line, "Failed "+clock(o.At))
	default:
		line = append(line, "Succeeded "+clock(o.At))
	}
	if o.Took > 0 {
		line[0] += " after " + words.Duration(o.Took)
	}
	if o.InThread {
		line = append(line, "details in the thread")
	}
	outcome := slack.NewContextBlock("outcome", mrkdwn(strings.Join(line, " · ")))
	m.Blocks = append(m.Blocks[:1], append([]slack.Block{outcome}, m.Blocks[1:]...)...)
	m.Text = text.Cut(Escape(said+": "+words.Name(root)+" — "+line[0]), maxText)
	return m
}

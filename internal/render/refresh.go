package render

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/text"
)

// maxError is how much of Tableau's error text a message quotes.
const maxError = 1500

// suspendAfter is how many refreshes in a row may fail before Tableau Cloud suspends
// the task (Tableau Server: when an administrator has turned that on).
const suspendAfter = 5

var (
	// exceptionPrefix is a Java exception's class, which Tableau puts before the text.
	exceptionPrefix = regexp.MustCompile(`^(?:[\w$]+(?:\.[\w$]+)+(?:Exception|Error):\s*)+`)
	// driverPrefix is an ODBC driver's chain of "[vendor][driver][server]" tags.
	driverPrefix = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)+`)
)

// errorLines splits Tableau's notes into lines; the recorded notes carry "\n" as two
// characters as often as a real line break.
func errorLines(notes string) []string {
	notes = strings.ReplaceAll(strings.ReplaceAll(notes, `\n`, "\n"), "\r", "")
	var out []string
	for _, l := range strings.Split(notes, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Headline is the meaningful line of Tableau's error text: the first line that says
// something once the exception class and the driver tags are taken off.
func Headline(notes string) string {
	for _, l := range errorLines(notes) {
		l = strings.TrimSpace(driverPrefix.ReplaceAllString(exceptionPrefix.ReplaceAllString(l, ""), ""))
		if l != "" {
			return l
		}
	}
	return ""
}

// codeBlock quotes untrusted text as code: escaped, and unable to close the block.
func codeBlock(s string) string {
	return "```" + Escape(strings.ReplaceAll(s, "```", "'''")) + "```"
}

// Ordinal is 1st, 2nd, 3rd, 4th, 11th, 21st …
func Ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Duration is a run time as people say it: 45s, 2m 14s, 1h 3m.
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
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
		text := "*Why:* " + Escape(text.Cut(Headline(fl.Error), 300)) + "\n" + codeBlock(text.Cut(strings.Join(errorLines(fl.Error), "\n"), maxError))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, nil))
	}
	var facts []string
	if fl := f.Failure; fl != nil && !fl.Started.IsZero() {
		s := "Started " + clock(fl.Started)
		if d := fl.Took(); d > 0 {
			s += ", ran " + Duration(d)
		}
		facts = append(facts, s)
	}
	if f.Streak > 1 {
		facts = append(facts, Ordinal(f.Streak)+" failure in a row")
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
		s += " — " + Headline(f.Failure.Error)
	}
	if f.Streak > 1 {
		s += " (" + Ordinal(f.Streak) + " failure in a row)"
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
	words, em := Words(o.Event), emoji(o.Event)
	if o.Recovered > 0 {
		words, em = Words(root.Event)+" — recovered", ":white_check_mark:"
	}
	m.Blocks[0] = slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Cut(em+" "+words+": "+Name(root), maxHeader), true, false))
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
		line[0] += " after " + Duration(o.Took)
	}
	if o.InThread {
		line = append(line, "details in the thread")
	}
	outcome := slack.NewContextBlock("outcome", mrkdwn(strings.Join(line, " · ")))
	m.Blocks = append(m.Blocks[:1], append([]slack.Block{outcome}, m.Blocks[1:]...)...)
	m.Text = text.Cut(Escape(words+": "+Name(root)+" — "+line[0]), maxText)
	return m
}

package paging

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrPolicy is wrapped by every problem a Policy has.
var ErrPolicy = errors.New("invalid escalation policy")

// DefaultDelay is how long a step waits for an acknowledgement before the
// next one fires, when the step does not say.
const DefaultDelay = 5 * time.Minute

// Policy says which messages page, whom and when: the `escalation:`
// section of the agent's config.
//
//	escalation:
//	  alert_lanes: [flash]            # default [flash]
//	  advisory_lanes: [flash, urgent] # default [flash, urgent]
//	  exercises: false                # page exercise messages too (marked EXERCISE)
//	  body: false                     # put TLP:RED and AMBER+STRICT words in pages
//	  steps:
//	    - channel: pagerduty          # at once
//	    - channel: email:soc-lead@st-mary.example
//	      after: 5m                   # unacknowledged this long after the step before
//	    - channel: webhook
//	      after: 10m
type Policy struct {
	// AlertLanes are the lanes of alerts that page. Default [flash].
	AlertLanes []string `yaml:"alert_lanes"`
	// AdvisoryLanes are the lanes of advisories that page. Default [flash,
	// urgent]. A CSAF advisory pages only when the member's inventory
	// matched, whatever its lane.
	AdvisoryLanes []string `yaml:"advisory_lanes"`
	// Exercises pages exercise messages too, each marked EXERCISE first.
	// Default false.
	Exercises bool `yaml:"exercises"`
	// Body puts the words of TLP:RED and TLP:AMBER+STRICT messages in
	// pages. Default false: such a page says only who sent what, and to
	// open the console.
	Body bool `yaml:"body"`
	// Steps are whom to page, in order. At least one.
	Steps []Step `yaml:"steps"`
}

// Step is one rung of the escalation.
type Step struct {
	// Channel names the channel this step sends on: "pagerduty",
	// "webhook", or "email:ADDRESS[,ADDRESS...]".
	Channel string `yaml:"channel"`
	// After is how long the step before must go unacknowledged before this
	// one fires. The first step fires at once whatever it says; default
	// DefaultDelay for the others.
	After time.Duration `yaml:"after"`
}

// withDefaults fills the zero fields and checks the rest; known are the
// channels that exist (by the name a Step uses, email: with its address).
func (p Policy) withDefaults(known func(string) bool) (Policy, error) {
	if p.AlertLanes == nil {
		p.AlertLanes = []string{"flash"}
	}
	if p.AdvisoryLanes == nil {
		p.AdvisoryLanes = []string{"flash", "urgent"}
	}
	if len(p.Steps) == 0 {
		return p, fmt.Errorf("%w: no steps: say whom to page (steps: - channel: pagerduty)", ErrPolicy)
	}
	p.Steps = slices.Clone(p.Steps)
	for i := range p.Steps {
		s := &p.Steps[i]
		if !known(s.Channel) {
			return p, fmt.Errorf("%w: step %d: no channel %q is configured; use pagerduty (with --pager), webhook (with a webhook sink) or email:ADDRESS (with smtp:)", ErrPolicy, i+1, s.Channel)
		}
		switch {
		case s.After < 0:
			return p, fmt.Errorf("%w: step %d: after %s is negative", ErrPolicy, i+1, s.After)
		case i == 0:
			s.After = 0
		case s.After == 0:
			s.After = DefaultDelay
		}
	}
	return p, nil
}

// Pages reports whether m pages under p: a message that matched the
// member's own assets always does, a CSAF advisory only then.
func (p Policy) Pages(m Message) bool {
	if m.Exercise && !p.Exercises {
		return false
	}
	if m.Affected > 0 {
		return true
	}
	switch m.Kind {
	case "alert":
		return slices.Contains(p.AlertLanes, m.Lane)
	case "advisory":
		return slices.Contains(p.AdvisoryLanes, m.Lane)
	}
	return false
}

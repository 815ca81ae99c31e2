package broker

import "testing"

func TestWhatAStoppingNodeLogsAtInfo(t *testing.T) {
	for m, want := range map[string]bool{
		"pipe - cid:16 - authentication error":                  true,  // its own services, as it stops
		"127.0.0.1:51234 - cid:9 - authentication error":        false, // a client: always an error
		"Error flushing: write: broken pipe":                    true,
		"Error trying to connect to route (attempt 1): refused": true,
		"JetStream cluster stream 'X' has NO quorum, stalled":   false,
	} {
		if got := stopMessage(m); got != want {
			t.Errorf("stopMessage(%q) = %v, want %v", m, got, want)
		}
	}
}

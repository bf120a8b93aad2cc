// Package e2e holds what every end-to-end test package shares: building
// the rampart binary once when RAMPART_E2E=1, skipping otherwise, and
// finding the processes a test started. It is imported by tests only and
// must never be imported by rampart itself.
package e2e

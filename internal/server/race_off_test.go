//go:build !race

package server

// raceDetector is true in a test binary built with -race.
const raceDetector = false

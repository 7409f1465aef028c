//go:build race

package netpollengine

const raceEnabled = true

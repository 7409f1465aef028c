//go:build !race

package netpollengine

const raceEnabled = false

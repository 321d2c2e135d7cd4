package main

import (
	"time"

	"github.com/shoptoken/shoptoken"
)

// scaledClock is a shoptoken.Clock that runs speed times faster than real time, equal to it at
// epoch. Two processes given the same speed and epoch (keeper and emulate) agree on the time, so
// a simulated day of a keeper against the emulators takes a day/speed of real time. It exists for
// measurements (the hidden --clock-speed and --clock-epoch flags), never for production.
type scaledClock struct {
	epoch time.Time
	speed float64
}

func (c scaledClock) Now() time.Time {
	real := time.Now()
	return c.epoch.Add(time.Duration(float64(real.Sub(c.epoch)) * c.speed))
}

func (c scaledClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(time.Duration(float64(d)/c.speed), f).Stop
}

// clock returns the simulated clock of --clock-speed, or nil (the system clock).
func (c *cli) clock() shoptoken.Clock {
	if c.clockSpeed <= 0 || c.clockSpeed == 1 {
		return nil
	}
	epoch := time.Now()
	if c.clockEpoch != 0 {
		epoch = time.Unix(c.clockEpoch, 0)
	}
	return scaledClock{epoch: epoch, speed: c.clockSpeed}
}

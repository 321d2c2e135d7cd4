// Package lifetime bounds the expiry times the providers derive from platform answers, so that
// one rule holds for all four: an expiry is believed only when it lies after the moment of the
// answer and at most Horizon (ten years) later. Anything else (seconds read as milliseconds, a
// clock years off, a number past year 9999 that no JSON encoder can write) is not used: the
// provider assumes the platform's documented lifetime instead, and never throws away the answer
// over it, because the platform has issued the token it carries (and, on some platforms, killed
// the previous one or rotated the refresh token to get it).
package lifetime

// Package redact shortens secrets for display: tokens, app secrets, vekeys and authorization codes
// appear in output only as a short prefix, an ellipsis and their length.
package redact

package probe

import "time"

// CertExpiring reports whether a certificate valid until notAfter expires
// within days of now, for ssl_expiration. The API sends days as 1, 2, 3, 7, 14,
// 30 or 60, and -1 or 0 to disable the check; a zero notAfter means the target
// presented no certificate, which is the HTTP probe's concern, not this check's.
func CertExpiring(notAfter, now time.Time, days int) bool {
	return expiresWithin(notAfter, now, days)
}

// expiresWithin is shared by certificate and domain expiry, which the API
// configures alike. An expiry already past counts as expiring.
func expiresWithin(expiry, now time.Time, days int) bool {
	if days <= 0 || expiry.IsZero() {
		return false
	}
	return expiry.Before(now.Add(time.Duration(days) * 24 * time.Hour))
}

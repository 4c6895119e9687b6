package probe

import (
	"context"
	"fmt"
	"strings"
)

// smtpHelloName is the name the probe introduces itself with. net/smtp uses
// the same when it knows no better; the probe never sends mail, so no server
// has a reason to check it.
const smtpHelloName = "localhost"

var smtpProto = mailProto{
	name:     "smtp",
	greet:    smtpGreet,
	caps:     smtpHello,
	startTLS: smtpStartTLS,
	quit:     smtpQuit,
}

// probeSMTP checks a mail server on 25 or 587 (STARTTLS when offered) or 465
// (implicit TLS): greeting 220, EHLO, QUIT. StatusCode is the greeting's reply
// code, set even when it is not 220.
func probeSMTP(ctx context.Context, t *Target, env *Env, r *Result) {
	probeMail(ctx, t, env, r, &smtpProto)
}

func smtpGreet(s *mailSession) error {
	code, msg, err := s.text.ReadResponse(0)
	if err != nil {
		return err
	}
	s.res.StatusCode = code
	if code != 220 {
		return fmt.Errorf("server answered %d %s", code, mailQuote(msg))
	}
	return nil
}

func smtpHello(s *mailSession) (bool, error) {
	if err := s.cmd("EHLO %s", smtpHelloName); err != nil {
		return false, err
	}
	code, msg, err := s.text.ReadResponse(0)
	if err != nil {
		return false, fmt.Errorf("EHLO: %w", err)
	}
	switch {
	case code == 250:
		lines := strings.Split(msg, "\n")
		for _, ext := range lines[1:] {
			if kw, _, _ := strings.Cut(strings.TrimSpace(ext), " "); strings.EqualFold(kw, "STARTTLS") {
				return true, nil
			}
		}
		return false, nil
	case code >= 500 && code < 600:
		// A server that predates ESMTP refuses EHLO; it is still up if it
		// takes HELO (RFC 5321 section 3.2), only without extensions.
		if err := s.cmd("HELO %s", smtpHelloName); err != nil {
			return false, err
		}
		if _, _, err := s.text.ReadResponse(250); err != nil {
			return false, fmt.Errorf("HELO after EHLO was refused: %w", err)
		}
		return false, nil
	default:
		return false, fmt.Errorf("EHLO: server answered %d %s", code, mailQuote(msg))
	}
}

func smtpStartTLS(s *mailSession) error {
	if err := s.cmd("STARTTLS"); err != nil {
		return err
	}
	if _, _, err := s.text.ReadResponse(220); err != nil {
		return fmt.Errorf("server refused: %w", err)
	}
	return nil
}

func smtpQuit(s *mailSession) error {
	if err := s.cmd("QUIT"); err != nil {
		return err
	}
	// Any 2xx: RFC 5321 says 221, and some servers say 250 and hang up.
	if _, _, err := s.text.ReadResponse(2); err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	return nil
}

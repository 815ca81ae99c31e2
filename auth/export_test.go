package auth

import "github.com/nats-io/jwt/v2"

// IssueClaimsAnswerer returns .creds for a system-account user that
// receives the account pushes ($SYS.REQ.CLAIMS.UPDATE) and may answer
// them: a stand-in node for the push tests.
func (a *Authority) IssueClaimsAnswerer(name string) ([]byte, error) {
	return issueWithNewKey(name, a.SystemAccount(), a.sysSigner, func(uc *jwt.UserClaims) {
		uc.Sub.Allow.Add(claimsUpdateSubject)
	})
}

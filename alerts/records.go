package alerts

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// SituationKey is the SITUATION bucket key of a facility's last report.
func SituationKey(region, member string) string { return region + "." + member }

// recordStatus keeps a facility's last status report, as the signed
// envelope itself, so the regional board can show who signed it.
func (r *Router) recordStatus(ctx context.Context, env *tocsinv1.Envelope, member *tocsinv1.Member, s *tocsinv1.StatusReport) error {
	if s.GetState() == tocsinv1.FacilityState_FACILITY_STATE_UNSPECIFIED {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a status report has a state: normal, degraded, diverting or down")
	}
	region := s.GetRegion()
	if region == "" {
		region = member.GetRegion()
	}
	if region == "" || !envelope.ValidMemberID(region) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "region %q is not a region token (lowercase letters, digits, dashes)", region)
	}
	data, err := proto.Marshal(env)
	if err != nil {
		return err
	}
	_, err = r.situation.Put(ctx, SituationKey(region, member.GetId()), data)
	return err
}

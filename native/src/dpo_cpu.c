/* Fused DPO loss: validation, dispatch and the CPU implementation. */
#include "dpo_math.h"
#include "internal.h"

#include <math.h>
#include <string.h>

static const char *const LOSS_NAMES[] = {"sigmoid", "robust", "hinge", "ipo",
                                         "apo_zero", "sppo_hard", "nca_pair", "apo_down"};

static int32_t check_finite(const double *v, int64_t n, const char *name, smoldpo_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "%s[%lld] = %g is not finite", name,
                           (long long)i, v[i]);
    return SMOLDPO_OK;
}

int32_t smoldpo_dpo_loss(int32_t device, int64_t batch, const double *pc, const double *pr,
                         const double *rc, const double *rr, const int32_t *lc, const int32_t *lr,
                         const smoldpo_dpo_params *params, const smoldpo_dpo_outputs *out,
                         smoldpo_dpo_summary *summary, smoldpo_error *err) {
    if (device != SMOLDPO_DEVICE_CPU && device != SMOLDPO_DEVICE_CUDA)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_DEVICE, "device %d is neither CPU (0) nor CUDA (1)", device);
    if (!params) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "params is NULL");
    if (batch <= 0) return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "batch %lld must be positive", (long long)batch);
    if (batch > ((int64_t)1 << 31))
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "batch %lld exceeds 2^31", (long long)batch);
    const int32_t type = params->loss_type;
    if (type < 0 || type > SMOLDPO_LOSS_APO_DOWN)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_LOSS, "loss type %d is unknown (0..%d)", type,
                       SMOLDPO_LOSS_APO_DOWN);
    if (params->flags & ~SMOLDPO_DPO_REFERENCE_FREE)
        return sd_fail(err, SMOLDPO_ERR_UNSUPPORTED_LOSS, "unknown flags 0x%x", (unsigned)params->flags);
    const double beta = params->beta, eps = params->label_smoothing;
    if (!(beta > 0.0) || !isfinite(beta))
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "beta = %g must be positive and finite", beta);
    if (!(eps >= 0.0 && eps < 1.0))
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT, "label_smoothing = %g must be in [0, 1)", eps);
    if (type == SMOLDPO_LOSS_ROBUST && !(eps < 0.5))
        return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT,
                       "label_smoothing = %g must be below 0.5 for the robust loss", eps);
    if (!pc) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "policy_chosen is NULL");
    if (!pr) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "policy_rejected is NULL");
    const int ref_free = (params->flags & SMOLDPO_DPO_REFERENCE_FREE) != 0;
    if (!ref_free && !rc) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "reference_chosen is NULL (set SMOLDPO_DPO_REFERENCE_FREE to omit it)");
    if (!ref_free && !rr) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "reference_rejected is NULL (set SMOLDPO_DPO_REFERENCE_FREE to omit it)");
    if (!out) return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "outputs is NULL");
    int32_t rc_ = check_finite(pc, batch, "policy_chosen", err);
    if (!rc_) rc_ = check_finite(pr, batch, "policy_rejected", err);
    if (!rc_ && !ref_free) rc_ = check_finite(rc, batch, "reference_chosen", err);
    if (!rc_ && !ref_free) rc_ = check_finite(rr, batch, "reference_rejected", err);
    if (rc_) return rc_;
    if (type == SMOLDPO_LOSS_IPO) {
        if (!lc || !lr)
            return sd_fail(err, SMOLDPO_ERR_NULL_ARGUMENT, "the ipo loss needs chosen and rejected completion lengths");
        for (int64_t i = 0; i < batch; i++)
            if (lc[i] <= 0 || lr[i] <= 0)
                return sd_fail(err, SMOLDPO_ERR_INVALID_ARGUMENT,
                               "completion lengths of pair %lld are %d and %d, they must be positive for ipo",
                               (long long)i, lc[i], lr[i]);
    }
    (void)LOSS_NAMES;
    if (device == SMOLDPO_DEVICE_CUDA) {
        int32_t r = sd_cuda_dpo(batch, pc, pr, ref_free ? NULL : rc, ref_free ? NULL : rr, lc, lr,
                                params, out, summary, err);
        return r ? r : sd_ok(err);
    }

    const double inv_b = 1.0 / (double)batch;
    double s_loss = 0, s_rc = 0, s_rr = 0, s_acc = 0, s_lpc = 0, s_lpr = 0;
    for (int64_t i = 0; i < batch; i++) {
        sd_dpo_pair p;
        sd_dpo_pair_eval(type, beta, eps, pc[i], pr[i], ref_free ? 0.0 : rc[i], ref_free ? 0.0 : rr[i],
                         lc ? (double)lc[i] : 1.0, lr ? (double)lr[i] : 1.0, &p);
        if (out->losses) out->losses[i] = p.loss;
        if (out->grad_chosen) out->grad_chosen[i] = p.d_chosen * inv_b;
        if (out->grad_rejected) out->grad_rejected[i] = p.d_rejected * inv_b;
        if (out->rewards_chosen) out->rewards_chosen[i] = p.reward_chosen;
        if (out->rewards_rejected) out->rewards_rejected[i] = p.reward_rejected;
        if (out->margins) out->margins[i] = p.reward_chosen - p.reward_rejected;
        s_loss += p.loss;
        s_rc += p.reward_chosen;
        s_rr += p.reward_rejected;
        s_acc += p.reward_chosen > p.reward_rejected ? 1.0 : 0.0;
        s_lpc += p.logp_chosen;
        s_lpr += p.logp_rejected;
    }
    if (summary) {
        summary->loss = s_loss * inv_b;
        summary->rewards_chosen = s_rc * inv_b;
        summary->rewards_rejected = s_rr * inv_b;
        summary->rewards_accuracy = s_acc * inv_b;
        summary->rewards_margin = (s_rc - s_rr) * inv_b;
        summary->logps_chosen = s_lpc * inv_b;
        summary->logps_rejected = s_lpr * inv_b;
    }
    return sd_ok(err);
}

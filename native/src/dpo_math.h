/* Per-pair DPO arithmetic shared by the C and CUDA implementations (host+device inline). */
#ifndef SMOLDPO_DPO_MATH_H
#define SMOLDPO_DPO_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define SD_DHD __host__ __device__ __forceinline__
#else
#define SD_DHD static inline
#endif

/* softplus(x) = log(1 + e^x) without overflow for large |x| */
SD_DHD double sd_softplus(double x) {
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
/* log sigma(x) = -softplus(-x) */
SD_DHD double sd_log_sigmoid(double x) { return -sd_softplus(-x); }
SD_DHD double sd_sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

typedef struct sd_dpo_pair {
    double loss;
    double d_chosen;   /* d loss_i / d policy_chosen_i (raw, not yet divided by batch) */
    double d_rejected; /* d loss_i / d policy_rejected_i */
    double reward_chosen;
    double reward_rejected;
    double logp_chosen; /* policy log-prob as reported: the summed one, for ipo too */
    double logp_rejected;
} sd_dpo_pair;

/* type: enum smoldpo_loss_type (validated by the caller). lc/lr: completion lengths (ipo only).
 * ipo's loss uses length-normalised log-probs while the rewards and log-probs reported stay the
 * summed ones, as TRL's DPOTrainer._compute_loss logs them (main since the v0.29 refactor; v0.12 to
 * v0.28 logged the normalised ones). */
SD_DHD void sd_dpo_pair_eval(int32_t type, double beta, double eps, double pc, double pr, double rc,
                             double rr, double lc, double lr, sd_dpo_pair *o) {
    const double raw_dc = pc - rc, raw_dr = pr - rr, raw_pc = pc, raw_pr = pr;
    double sc = 1.0, sr = 1.0; /* d(normalised logp)/d(raw logp) */
    if (type == 3) {           /* ipo: length-normalised log-probs */
        sc = 1.0 / lc;
        sr = 1.0 / lr;
        pc *= sc;
        rc *= sc;
        pr *= sr;
        rr *= sr;
    }
    const double dc = pc - rc, dr = pr - rr, d = dc - dr, z = beta * d;
    double loss = 0.0, gdc = 0.0, gdr = 0.0; /* d loss / d dc, d loss / d dr */
    switch (type) {
    case 0: { /* sigmoid (cDPO with eps) */
        loss = -(1.0 - eps) * sd_log_sigmoid(z) - eps * sd_log_sigmoid(-z);
        double gz = -(1.0 - eps) * sd_sigmoid(-z) + eps * sd_sigmoid(z);
        gdc = beta * gz;
        gdr = -beta * gz;
        break;
    }
    case 1: { /* robust */
        double k = 1.0 / (1.0 - 2.0 * eps);
        loss = (-(1.0 - eps) * sd_log_sigmoid(z) + eps * sd_log_sigmoid(-z)) * k;
        double gz = (-(1.0 - eps) * sd_sigmoid(-z) - eps * sd_sigmoid(z)) * k;
        gdc = beta * gz;
        gdr = -beta * gz;
        break;
    }
    case 2: { /* hinge: relu(1 - z), subgradient 0 at the kink as torch.relu */
        double m = 1.0 - z;
        loss = m > 0.0 ? m : 0.0;
        double gz = m > 0.0 ? -1.0 : 0.0;
        gdc = beta * gz;
        gdr = -beta * gz;
        break;
    }
    case 3: { /* ipo */
        double u = d - 1.0 / (2.0 * beta);
        loss = u * u;
        gdc = 2.0 * u;
        gdr = -2.0 * u;
        break;
    }
    case 4: { /* apo_zero */
        double sc_ = sd_sigmoid(beta * dc), sr_ = sd_sigmoid(beta * dr);
        loss = (1.0 - sc_) + sr_;
        gdc = -beta * sc_ * sd_sigmoid(-beta * dc);
        gdr = beta * sr_ * sd_sigmoid(-beta * dr);
        break;
    }
    case 5: { /* sppo_hard */
        double a = dc - 1.0 / (2.0 * beta), b = dr + 1.0 / (2.0 * beta);
        loss = a * a + b * b;
        gdc = 2.0 * a;
        gdr = 2.0 * b;
        break;
    }
    case 6: { /* nca_pair */
        double xc = beta * dc, xr = beta * dr;
        loss = -sd_log_sigmoid(xc) - 0.5 * sd_log_sigmoid(-xc) - 0.5 * sd_log_sigmoid(-xr);
        gdc = beta * (-sd_sigmoid(-xc) + 0.5 * sd_sigmoid(xc));
        gdr = beta * 0.5 * sd_sigmoid(xr);
        break;
    }
    default: { /* 7: apo_down */
        double xc = beta * dc;
        double s1 = sd_sigmoid(xc), s2 = sd_sigmoid(z);
        loss = s1 + (1.0 - s2);
        double g1 = beta * s1 * sd_sigmoid(-xc); /* d s1 / d dc */
        double g2 = beta * s2 * sd_sigmoid(-z);  /* d s2 / d d */
        gdc = g1 - g2;
        gdr = g2;
        break;
    }
    }
    o->loss = loss;
    o->d_chosen = gdc * sc;
    o->d_rejected = gdr * sr;
    o->reward_chosen = beta * raw_dc;
    o->reward_rejected = beta * raw_dr;
    o->logp_chosen = raw_pc;
    o->logp_rejected = raw_pr;
}

#endif

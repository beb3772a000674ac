package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class DpoLossTest {
    static final double[] PC = {-12.5, -30.0, -7.25, -50.0, -3.0};
    static final double[] PR = {-14.0, -28.5, -9.0, -49.0, -3.5};
    static final double[] RC = {-13.0, -29.0, -8.0, -51.5, -3.0};
    static final double[] RR = {-13.5, -29.5, -8.5, -48.0, -4.0};
    static final int[] LC = {5, 12, 3, 20, 1};
    static final int[] LR = {7, 10, 4, 18, 2};

    static double sig(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** The closed forms of TRL's dpo_loss (trl/trainer/dpo_trainer.py), evaluated naively (fine for moderate arguments). */
    static double expected(LossType t, double beta, double eps, int i, boolean refFree) {
        double pc = PC[i], pr = PR[i], rc = refFree ? 0 : RC[i], rr = refFree ? 0 : RR[i];
        if (t == LossType.IPO) {
            pc /= LC[i];
            rc /= LC[i];
            pr /= LR[i];
            rr /= LR[i];
        }
        double dc = pc - rc, dr = pr - rr, d = dc - dr, z = beta * d;
        return switch (t) {
            case SIGMOID -> -(1 - eps) * Math.log(sig(z)) - eps * Math.log(sig(-z));
            case ROBUST -> (-(1 - eps) * Math.log(sig(z)) + eps * Math.log(sig(-z))) / (1 - 2 * eps);
            case HINGE -> Math.max(0, 1 - z);
            case IPO -> Math.pow(d - 1 / (2 * beta), 2);
            case APO_ZERO -> (1 - sig(beta * dc)) + sig(beta * dr);
            case SPPO_HARD -> Math.pow(dc - 1 / (2 * beta), 2) + Math.pow(dr + 1 / (2 * beta), 2);
            case NCA_PAIR -> -Math.log(sig(beta * dc)) - 0.5 * Math.log(sig(-beta * dc)) - 0.5 * Math.log(sig(-beta * dr));
            case APO_DOWN -> sig(beta * dc) + (1 - sig(z));
        };
    }

    static void close(double want, double got, double rel, String what) {
        assertTrue(Math.abs(want - got) <= rel * Math.max(1, Math.abs(want)), what + ": want " + want + " got " + got);
    }

    @Test
    void knownAnswersForEveryLossType() {
        for (LossType t : LossType.values()) {
            for (boolean refFree : new boolean[] {false, true}) {
                double beta = 0.25, eps = t == LossType.SIGMOID || t == LossType.ROBUST ? 0.1 : 0.0;
                DpoResult r = new DpoLoss(t, beta, eps, refFree, Device.CPU)
                        .compute(PC, PR, refFree ? null : RC, refFree ? null : RR, LC, LR);
                double mean = 0, acc = 0, rwc = 0, rwr = 0;
                for (int i = 0; i < PC.length; i++) {
                    double want = expected(t, beta, eps, i, refFree);
                    close(want, r.losses()[i], 1e-12, t + " pair " + i);
                    mean += want / PC.length;
                    // rewards from the summed log-probs for every type, ipo too (as TRL main logs them)
                    double c = beta * (PC[i] - (refFree ? 0 : RC[i])), j = beta * (PR[i] - (refFree ? 0 : RR[i]));
                    close(c, r.rewardsChosen()[i], 1e-12, "rewards/chosen");
                    close(j, r.rewardsRejected()[i], 1e-12, "rewards/rejected");
                    close(c - j, r.margins()[i], 1e-12, "margins");
                    acc += c > j ? 1.0 / PC.length : 0;
                    rwc += c / PC.length;
                    rwr += j / PC.length;
                }
                close(mean, r.loss(), 1e-12, t + " mean");
                close(acc, r.accuracy(), 1e-15, t + " accuracy");
                close(rwc, r.rewardsChosenMean(), 1e-12, "mean rewards/chosen");
                close(rwr, r.rewardsRejectedMean(), 1e-12, "mean rewards/rejected");
                close(rwc - rwr, r.marginMean(), 1e-12, "mean margin");
            }
        }
    }

    @Test
    void sigmoidGradientHasTheDocumentedClosedForm() {
        double beta = 0.1;
        DpoResult r = DpoLoss.sigmoid(beta).compute(PC, PR, RC, RR, null, null);
        for (int i = 0; i < PC.length; i++) {
            double d = (PC[i] - RC[i]) - (PR[i] - RR[i]);
            double g = -beta * sig(-beta * d) / PC.length;
            close(g, r.gradChosen()[i], 1e-12, "grad chosen");
            close(-g, r.gradRejected()[i], 1e-12, "grad rejected");
        }
    }

    @Test
    void gradientsMatchFiniteDifferencesOfTheMeanLoss() {
        for (LossType t : LossType.values()) {
            double eps = t == LossType.SIGMOID || t == LossType.ROBUST ? 0.2 : 0.0;
            double beta = t == LossType.HINGE ? 0.05 : 0.3; // keep hinge away from its kink
            DpoLoss dpo = new DpoLoss(t, beta, eps, false, Device.CPU);
            DpoResult r = dpo.compute(PC, PR, RC, RR, LC, LR);
            double h = 1e-5;
            for (int i = 0; i < PC.length; i++) {
                for (boolean chosen : new boolean[] {true, false}) {
                    double[] pc = PC.clone(), pr = PR.clone();
                    double[] v = chosen ? pc : pr;
                    v[i] += h;
                    double up = dpo.compute(pc, pr, RC, RR, LC, LR).loss();
                    v[i] -= 2 * h;
                    double dn = dpo.compute(pc, pr, RC, RR, LC, LR).loss();
                    double fd = (up - dn) / (2 * h);
                    double an = chosen ? r.gradChosen()[i] : r.gradRejected()[i];
                    assertTrue(Math.abs(fd - an) <= 1e-6 * Math.max(1, Math.abs(an)) + 1e-9,
                            t + " pair " + i + (chosen ? " chosen" : " rejected") + ": fd " + fd + " analytic " + an);
                }
            }
        }
    }

    @Test
    void noInfOrNanAtLargeMargins() {
        for (LossType t : LossType.values()) {
            for (double sign : new double[] {1, -1}) {
                // beta 0.1, Delta = +-10000 -> |beta Delta| = 1000
                double[] pc = {sign * 5000}, pr = {-sign * 5000}, z = {0};
                DpoResult r = new DpoLoss(t, 0.1, t == LossType.SIGMOID ? 0.1 : 0, false, Device.CPU)
                        .compute(pc, pr, z, z, new int[] {1}, new int[] {1});
                for (double v : new double[] {r.loss(), r.losses()[0], r.gradChosen()[0], r.gradRejected()[0], r.marginMean()})
                    assertTrue(Double.isFinite(v), t + " sign " + sign + ": " + r);
            }
        }
        DpoResult bad = DpoLoss.sigmoid(0.1).compute(new double[] {-5000}, new double[] {5000}, new double[] {0}, new double[] {0}, null, null);
        close(1000.0, bad.loss(), 1e-12, "-log sigma(-1000)");
        close(-0.1, bad.gradChosen()[0], 1e-12, "saturated gradient");
    }

    @Test
    void metricsUseTrlNames() {
        DpoResult r = DpoLoss.sigmoid(0.1).compute(PC, PR, RC, RR, null, null);
        Map<String, Double> m = r.metrics();
        for (String k : new String[] {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                "logps/chosen", "logps/rejected"})
            assertTrue(m.containsKey(k), k);
        double lpc = 0;
        for (double v : PC) lpc += v / PC.length;
        close(lpc, m.get("logps/chosen"), 1e-12, "logps/chosen");
        assertTrue(r.metrics("eval_").containsKey("eval_rewards/accuracies"));
        assertEquals(LossType.APO_ZERO, LossType.fromTrlName("apo_zero"));
    }

    @Test
    void floatInputsAreAccepted() {
        float[] pc = {-1.5f, -2f}, pr = {-2f, -1f}, rc = {-1.5f, -2f}, rr = {-2f, -1f};
        DpoResult r = DpoLoss.sigmoid(0.1).compute(pc, pr, rc, rr, null, null);
        close(Math.log(2), r.loss(), 1e-12, "zero margin loss");
    }

    @Test
    void badInputBecomesExceptionsThatNameTheProblem() {
        DpoLoss dpo = DpoLoss.sigmoid(0.1);
        NativeException e = assertThrows(NativeException.class, () -> dpo.compute(PC, PR, null, RR, null, null));
        assertEquals("SMOLDPO_ERR_NULL_ARGUMENT", e.statusName());
        assertTrue(e.getMessage().contains("reference_chosen"), e.getMessage());
        e = assertThrows(NativeException.class, () -> dpo.compute(new double[0], new double[0], new double[0], new double[0], null, null));
        assertTrue(e.getMessage().contains("batch 0"), e.getMessage());
        e = assertThrows(NativeException.class, () -> new DpoLoss(LossType.SIGMOID, 0, 0, false, Device.CPU).compute(PC, PR, RC, RR, null, null));
        assertTrue(e.getMessage().contains("beta"), e.getMessage());
        e = assertThrows(NativeException.class, () -> new DpoLoss(LossType.ROBUST, 0.1, 0.5, false, Device.CPU).compute(PC, PR, RC, RR, null, null));
        assertTrue(e.getMessage().contains("label_smoothing"), e.getMessage());
        e = assertThrows(NativeException.class, () -> new DpoLoss(LossType.IPO, 0.1, 0, false, Device.CPU).compute(PC, PR, RC, RR, null, null));
        assertTrue(e.getMessage().contains("lengths"), e.getMessage());
        int[] zero = {5, 0, 1, 1, 1};
        e = assertThrows(NativeException.class, () -> new DpoLoss(LossType.IPO, 0.1, 0, false, Device.CPU).compute(PC, PR, RC, RR, LC, zero));
        assertTrue(e.getMessage().contains("pair 1"), e.getMessage());
        double[] nan = PC.clone();
        nan[3] = Double.NaN;
        e = assertThrows(NativeException.class, () -> dpo.compute(nan, PR, RC, RR, null, null));
        assertTrue(e.getMessage().contains("policy_chosen[3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> dpo.compute(PC, new double[2], RC, RR, null, null));
    }

    @Test
    void cudaWithoutGpuGivesAClearException() {
        org.junit.jupiter.api.Assumptions.assumeTrue(SmolDpoNative.cudaDeviceCount() == 0, "a GPU is present");
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> DpoLoss.sigmoid(0.1).on(Device.CUDA));
        assertEquals(Device.CUDA, e.device());
        assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
    }
}

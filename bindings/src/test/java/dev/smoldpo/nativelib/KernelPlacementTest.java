package dev.smoldpo.nativelib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.smoldpo.nativelib.KernelPlacement.Kernel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KernelPlacementTest {

    @AfterEach
    void clear() {
        for (Kernel k : Kernel.values()) {
            System.clearProperty(k.property());
        }
    }

    @Test
    void fitKeepsBothKernelsOnTheCpuEvenInACudaRun() {
        // no GPU measurement has shown CUDA faster at fit's shapes (native/README.md)
        for (Kernel k : Kernel.values()) {
            assertEquals(Device.CPU, KernelPlacement.forFit(k, true), k.name());
            assertEquals(Device.CPU, KernelPlacement.forFit(k, false), k.name());
        }
    }

    @Test
    void aPropertyOverridesOneKernel() {
        System.setProperty(KernelPlacement.PREPROCESS_PROPERTY, " CPU ");
        assertEquals(Device.CPU, KernelPlacement.forFit(Kernel.PREPROCESS, true));
        System.setProperty(KernelPlacement.DPO_LOSS_PROPERTY, "cuda");
        if (Device.CUDA.isAvailable()) {
            assertEquals(Device.CUDA, KernelPlacement.forFit(Kernel.DPO_LOSS, false));
        } else {
            DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                    () -> KernelPlacement.forFit(Kernel.DPO_LOSS, true));
            assertTrue(e.getMessage().contains(KernelPlacement.DPO_LOSS_PROPERTY + "=cuda"), e.getMessage());
        }
        assertEquals(Device.CPU, KernelPlacement.forFit(Kernel.PREPROCESS, true), "the other kernel is unaffected");
    }

    @Test
    void anUnknownValueIsAnErrorNamingTheProperty() {
        System.setProperty(KernelPlacement.PREPROCESS_PROPERTY, "gpu");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KernelPlacement.forFit(Kernel.PREPROCESS, true));
        assertTrue(e.getMessage().contains(KernelPlacement.PREPROCESS_PROPERTY) && e.getMessage().contains("'gpu'"),
                e.getMessage());
    }
}

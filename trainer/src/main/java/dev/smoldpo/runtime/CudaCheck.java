package dev.smoldpo.runtime;

import ai.onnxruntime.OrtSession;
import dev.smoldpo.runtime.cuda.CudaLibrarySearch;
import dev.smoldpo.runtime.cuda.HostLayout;
import dev.smoldpo.runtime.cuda.SearchPlace;

/**
 * Prints where ONNX Runtime and the CUDA libraries come from and whether ORT's CUDA provider can be
 * added to a session: {@code java --enable-native-access=ALL-UNNAMED -cp trainer.jar dev.smoldpo.runtime.CudaCheck}.
 * Exit code 0 when it can, 1 with the reason otherwise. For GPU hosts (tools/gpu-check.sh).
 */
public final class CudaCheck {
    private CudaCheck() {}

    public static void main(String[] args) {
        try {
            System.out.println("ONNX Runtime " + OrtRuntime.environment().getVersion() + " (training enabled) from "
                    + System.getProperty(OrtRuntime.ORT_FOLDER_PROPERTY));
            System.out.println("CUDA library search, in order:");
            int i = 1;
            for (SearchPlace place : CudaLibrarySearch.of(HostLayout.current(), OrtRuntime.cacheRoot()).places()) {
                System.out.println("  " + i++ + ". " + place.label() + (place.folders().isEmpty() ? ": no folders" : ""));
                place.folders().forEach(f -> System.out.println("       " + f));
            }
            OrtRuntime.enableCuda(); // prints what it found and loaded (stderr)
            try (OrtSession.SessionOptions options = SessionSettings.options(0, true)) {
                System.out.println("CUDA execution provider: added to a session's options (device 0)");
            }
            System.exit(0);
        } catch (Exception | LinkageError e) {
            System.out.println("CUDA execution provider: NOT AVAILABLE");
            System.out.println(e.getMessage());
            System.exit(1);
        }
    }
}

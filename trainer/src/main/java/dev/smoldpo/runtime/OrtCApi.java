package dev.smoldpo.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * ORT's C API, reached with the FFM API where the Java API stops (the CUDA provider, the training API's
 * parameter copy): the loaded libonnxruntime's symbols, the OrtApi function table
 * ({@code OrtGetApiBase()->GetApi(ORT_API_VERSION)}, include/onnxruntime/core/session/onnxruntime_c_api.h)
 * and the reading of an OrtStatus. Positions in the table are those of ORT 1.28's header.
 */
public final class OrtCApi {
    /** The C API version of ORT 1.28. */
    public static final int ORT_API_VERSION = 28;
    private static final int GET_ERROR_MESSAGE = 2;
    private static final int RELEASE_STATUS = 93;
    /** The table is read up to here (OrtApi::GetTrainingApi, the last entry callers use). */
    private static final int TABLE_ENTRIES = 220;

    private static OrtCApi instance;

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lookup;
    private final MemorySegment table;
    private final MethodHandle getErrorMessage;
    private final MethodHandle releaseStatus;

    private OrtCApi(SymbolLookup lookup) throws Throwable {
        this.lookup = lookup;
        MemorySegment getApiBase = lookup.find("OrtGetApiBase")
                .orElseThrow(() -> new IllegalStateException("the ONNX Runtime library exports no OrtGetApiBase"));
        MemorySegment base = ((MemorySegment) linker.downcallHandle(getApiBase, FunctionDescriptor.of(ValueLayout.ADDRESS))
                .invokeExact()).reinterpret(16);
        MemorySegment api = (MemorySegment) linker.downcallHandle(base.get(ValueLayout.ADDRESS, 0),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)).invokeExact(ORT_API_VERSION);
        if (api.address() == 0) {
            throw new IllegalStateException("ONNX Runtime does not offer C API version " + ORT_API_VERSION);
        }
        this.table = api.reinterpret(8L * TABLE_ENTRIES);
        this.getErrorMessage = function(table, GET_ERROR_MESSAGE, FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        this.releaseStatus = function(table, RELEASE_STATUS, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    /** The C API of the libonnxruntime this process loaded ({@link OrtRuntime}). */
    public static synchronized OrtCApi get() {
        if (instance == null) {
            try {
                instance = new OrtCApi(SymbolLookup.loaderLookup()
                        .or(SymbolLookup.libraryLookup(OrtRuntime.nativeLibrary(), Arena.global())));
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("cannot bind ONNX Runtime's C API: " + t, t);
            }
        }
        return instance;
    }

    /** An exported symbol of the library, if it has it. */
    public Optional<MemorySegment> symbol(String name) {
        return lookup.find(name);
    }

    /** A downcall to an exported symbol or a table entry. */
    public MethodHandle downcall(MemorySegment function, FunctionDescriptor descriptor) {
        return linker.downcallHandle(function, descriptor);
    }

    /** Entry {@code index} of the OrtApi table. */
    public MethodHandle apiFunction(int index, FunctionDescriptor descriptor) {
        return function(table, index, descriptor);
    }

    /** Entry {@code index} of another function table (e.g. OrtTrainingApi) of {@code entries} entries. */
    public MethodHandle function(MemorySegment otherTable, int index, FunctionDescriptor descriptor) {
        return linker.downcallHandle(otherTable.get(ValueLayout.ADDRESS, 8L * index), descriptor);
    }

    /** Throws with ORT's message when {@code status} (an OrtStatus*) is not null, releasing it. */
    public void check(MemorySegment status, String call) throws Throwable {
        if (status.address() == 0) {
            return;
        }
        String text = ((MemorySegment) getErrorMessage.invokeExact(status)).reinterpret(Integer.MAX_VALUE).getString(0);
        releaseStatus.invokeExact(status);
        throw new IllegalStateException(call.isEmpty() ? text : "ONNX Runtime's " + call + " failed: " + text);
    }
}

package dev.smoldpo.artifacts.checkpoint;

import java.nio.file.Path;

/**
 * Field slots of ONNX Runtime's checkpoint flatbuffer schema ({@code ort_training_checkpoint.fbs},
 * with {@code Tensor} from {@code ort.fbs}), for the hand-written builders and accessors here. A slot
 * is the field's index in its table declaration.
 */
final class CheckpointSchema {
    private CheckpointSchema() {}

    /** The file identifier, bytes 4..8 of the file. */
    static final String FILE_IDENTIFIER = "ODTC";
    /** The only checkpoint version ORT 1.28 loads, and the one it writes. */
    static final int VERSION = 2;

    /** table Checkpoint { version:int32; module_state:ModuleState; optimizer_groups:[OptimizerGroup]; property_bag:PropertyBag; } */
    static final class CheckpointT {
        static final int VERSION = 0;
        static final int MODULE_STATE = 1;
        static final int OPTIMIZER_GROUPS = 2;
        static final int PROPERTY_BAG = 3;
        static final int FIELDS = 4;
    }

    /** table ModuleState { requires_grad_params:[Tensor]; frozen_params:[Tensor]; is_nominal_state:bool; has_external_data:bool; } */
    static final class ModuleStateT {
        static final int REQUIRES_GRAD_PARAMS = 0;
        static final int FROZEN_PARAMS = 1;
        static final int IS_NOMINAL_STATE = 2;
        static final int HAS_EXTERNAL_DATA = 3;
        static final int FIELDS = 4;
    }

    /** table ParameterOptimizerState { param_name:string; momentums:[Tensor]; } */
    static final class ParameterOptimizerStateT {
        static final int PARAM_NAME = 0;
        static final int MOMENTUMS = 1;
        static final int FIELDS = 2;
    }

    /** table OptimizerGroup { group_name:string; step:int64; initial_learning_rate:float; optimizer_states:[ParameterOptimizerState]; } */
    static final class OptimizerGroupT {
        static final int GROUP_NAME = 0;
        static final int STEP = 1;
        static final int INITIAL_LEARNING_RATE = 2;
        static final int OPTIMIZER_STATES = 3;
        static final int FIELDS = 4;
    }

    /** tables IntProperty / FloatProperty / StringProperty { name:string; value:(int64|float|string); } */
    static final class PropertyT {
        static final int NAME = 0;
        static final int VALUE = 1;
        static final int FIELDS = 2;
    }

    /** table PropertyBag { ints:[IntProperty]; floats:[FloatProperty]; strings:[StringProperty]; } */
    static final class PropertyBagT {
        static final int INTS = 0;
        static final int FLOATS = 1;
        static final int STRINGS = 2;
        static final int FIELDS = 3;
    }

    /**
     * table Tensor { name:string; doc_string:string; dims:[int64]; data_type:TensorDataType(int32);
     * raw_data:[uint8]; string_data:[string]; external_data_offset:int64 = -1; }
     */
    static final class TensorT {
        static final int NAME = 0;
        static final int DOC_STRING = 1;
        static final int DIMS = 2;
        static final int DATA_TYPE = 3;
        static final int RAW_DATA = 4;
        static final int STRING_DATA = 5;
        static final int EXTERNAL_DATA_OFFSET = 6;
        static final int FIELDS = 7;
        static final long NO_EXTERNAL_DATA = -1;
        static final int STRING_TYPE = 8;
    }

    /** Where ORT keeps tensor bytes of a checkpoint saved with external data: the path plus {@code .data}. */
    static Path externalDataPath(Path checkpoint) {
        return checkpoint.resolveSibling(checkpoint.getFileName().toString() + ".data");
    }
}

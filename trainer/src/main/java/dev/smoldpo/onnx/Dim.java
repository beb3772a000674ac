package dev.smoldpo.onnx;

/**
 * One dimension of a tensor shape: a fixed size, a named symbol (the same symbol is the same size
 * everywhere in a graph, e.g. "batch"), or unknown.
 */
public record Dim(long value, String symbol) {
    public static final Dim UNKNOWN = new Dim(-1, null);

    public Dim {
        if (value < -1) {
            throw new IllegalArgumentException("negative dimension " + value);
        }
        if (value >= 0 && symbol != null) {
            throw new IllegalArgumentException("a dimension is fixed or symbolic, not both");
        }
    }

    public static Dim of(long value) {
        return new Dim(value, null);
    }

    public static Dim sym(String symbol) {
        return new Dim(-1, symbol);
    }

    public boolean isFixed() {
        return value >= 0;
    }

    public boolean isSymbolic() {
        return symbol != null;
    }

    /** True when both are provably the same size. */
    public boolean sameAs(Dim other) {
        return (isFixed() && value == other.value) || (isSymbolic() && symbol.equals(other.symbol));
    }

    @Override
    public String toString() {
        return isFixed() ? Long.toString(value) : isSymbolic() ? symbol : "?";
    }
}

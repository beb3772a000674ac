package dev.smoldpo.onnx;

import java.util.ArrayList;
import java.util.List;

/** A tensor shape; {@link #UNKNOWN_RANK} when not even the rank is known. */
public record Shape(List<Dim> dims) {
    public static final Shape UNKNOWN_RANK = new Shape(null);
    public static final Shape SCALAR = new Shape(List.of());

    public Shape {
        dims = dims == null ? null : List.copyOf(dims);
    }

    /** Builds a shape from fixed sizes (Long/Integer) and symbols (String); null means unknown. */
    public static Shape of(Object... dims) {
        List<Dim> list = new ArrayList<>();
        for (Object d : dims) {
            list.add(switch (d) {
                case null -> Dim.UNKNOWN;
                case Dim dim -> dim;
                case Number n -> Dim.of(n.longValue());
                case String s -> Dim.sym(s);
                default -> throw new IllegalArgumentException("not a dimension: " + d);
            });
        }
        return new Shape(list);
    }

    public static Shape fixed(long... dims) {
        List<Dim> list = new ArrayList<>();
        for (long d : dims) {
            list.add(Dim.of(d));
        }
        return new Shape(list);
    }

    public static Shape unknown(int rank) {
        List<Dim> list = new ArrayList<>();
        for (int i = 0; i < rank; i++) {
            list.add(Dim.UNKNOWN);
        }
        return new Shape(list);
    }

    public boolean hasRank() {
        return dims != null;
    }

    public int rank() {
        if (dims == null) {
            throw new IllegalStateException("rank unknown");
        }
        return dims.size();
    }

    public Dim dim(int axis) {
        return dims.get(axis < 0 ? axis + dims.size() : axis);
    }

    public boolean isFullyFixed() {
        return dims != null && dims.stream().allMatch(Dim::isFixed);
    }

    /** Element count when every dimension is fixed. */
    public long elementCount() {
        long n = 1;
        for (Dim d : dims) {
            if (!d.isFixed()) {
                throw new IllegalStateException("shape " + this + " is not fixed");
            }
            n *= d.value();
        }
        return n;
    }

    public long[] fixedDims() {
        long[] out = new long[rank()];
        for (int i = 0; i < out.length; i++) {
            if (!dims.get(i).isFixed()) {
                throw new IllegalStateException("shape " + this + " is not fixed");
            }
            out[i] = dims.get(i).value();
        }
        return out;
    }

    @Override
    public String toString() {
        return dims == null ? "[?...]" : dims.toString();
    }
}

package dev.smoldpo.nativelib;

/** The requested {@link Device} cannot run here (no CUDA in this build, no driver or no GPU). */
public class DeviceUnavailableException extends NativeException {
    private final Device device;

    public DeviceUnavailableException(Device device, int status, String message) {
        super(status, message);
        this.device = device;
    }

    public Device device() {
        return device;
    }
}

"""The desktop simulator: runs the real kiosk firmware in MicroPython unix-port
processes on a simulated board, in a Tk window, headless, or in the demo."""

package xtest

import "image"

// Photo returns a deterministic, opaque w x h photo-like picture: a sky
// gradient above a horizon, hills of fractal value noise (four octaves,
// smoothly interpolated) with texture, shading by height, and a light
// film grain, so that it has the statistics of a landscape photograph:
// mostly smooth, every pixel a little different, tens of thousands of
// colours. The same size always gives the same pixels, on every platform
// (integer arithmetic only).
func Photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, max(w, 0), max(h, 0)))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Fractal noise in 0..1023: octaves of 256, 128, 64, 32 px.
			n := 0
			for o, cell := range []int{256, 128, 64, 32} {
				n += smoothNoise(x, y, cell, o) >> o
			}
			n = n * 1024 / 1920 // the octaves sum to at most 1.875*1024
			horizon := h/2 + (n-512)*h/6/1024
			var c [3]int
			if y < horizon { // sky: deep blue to pale near the horizon, soft clouds
				t := y * 256 / max(horizon, 1)
				cloud := max(0, smoothNoise(x+7919, y, 128, 9)-600) / 3
				c = [3]int{60 + t/3 + cloud, 110 + t/4 + cloud, 200 + t/6 + cloud/2}
			} else { // land: green-brown by noise, darker further down
				d := (y - horizon) * 256 / max(h-horizon, 1)
				tex := smoothNoise(x, y, 8, 5) / 16 // 0..63 fine texture
				c = [3]int{70 + n/10 + tex/2 - d/4, 100 + n/12 + tex - d/3, 40 + n/20 + tex/3 - d/5}
			}
			for ch := range c {
				c[ch] += int(hash2(x, y, ch+11)%9) - 4 // grain
			}
			set(img, x, y, [3]byte{clampByte(c[0]), clampByte(c[1]), clampByte(c[2])})
		}
	}
	return img
}

func clampByte(v int) byte { return byte(min(max(v, 0), 255)) }

// smoothNoise is value noise on a lattice of cell pixels, 0..1023, with
// smoothstep interpolation.
func smoothNoise(x, y, cell, seed int) int {
	gx, gy := x/cell, y/cell
	fx, fy := smooth(x%cell*1024/cell), smooth(y%cell*1024/cell)
	v := func(i, j int) int { return int(hash2(gx+i, gy+j, seed+40) & 1023) }
	top := v(0, 0)*(1024-fx) + v(1, 0)*fx
	bot := v(0, 1)*(1024-fx) + v(1, 1)*fx
	return (top/1024*(1024-fy) + bot/1024*fy) / 1024
}

// smooth is smoothstep on 0..1024.
func smooth(t int) int { return t * t / 1024 * (3*1024 - 2*t) / 1024 }

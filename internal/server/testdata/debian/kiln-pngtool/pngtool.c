/* Writes a 1x1 PNG to stdout with libpng: proves the build linked with the
 * libpng the group built. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>

int main(void) {
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	png_byte row[3] = {255, 0, 0};
	if (!png || !info || setjmp(png_jmpbuf(png)))
		return 1;
	png_init_io(png, stdout);
	png_set_IHDR(png, info, 1, 1, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	png_write_row(png, row);
	png_write_end(png, NULL);
	fprintf(stderr, "libpng %s\n", png_get_libpng_ver(png));
	return 0;
}

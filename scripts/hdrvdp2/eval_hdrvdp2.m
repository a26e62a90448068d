function results = eval_hdrvdp2(pred_dir, label_dir, varargin)
% EVAL_HDRVDP2  HDR-VDP-2 quality Q of saved AFUNet predictions against their labels.
%
%   results = eval_hdrvdp2(PRED_DIR, LABEL_DIR, 'recipe', R, 'hdrvdp_path', P, 'label_name', F, 'out', CSV)
%
%   PRED_DIR   folder written by `python test.py --save_dir PRED_DIR` (<scene>.hdr, linear RGBE)
%   LABEL_DIR  the test split folder (<scene>/<label_name>), e.g. ../data/Kal/Test/Test-set
%   recipe     how pixels per degree (ppd) are derived; pinned here because Q moves with it:
%                'default' : 24-inch display at 0.50 m, resolution [W H] of the label
%                            (the Kalantari-era convention, e.g. DeepHDRVideo; ppd ~26.8 at 1500x1000)
%                'sctnet'  : 30-inch display at 0.55 m, resolution [1500 1000] (SCTNet; ppd ~23.8)
%                'safnet'  : 28-inch display at 0.55 m, resolution [W H] of the label (SAFNet; ppd ~25.3)
%   hdrvdp_path  folder of a user-installed HDR-VDP 2.2.x (added to the path if given)
%   label_name   label file inside each scene folder (default 'HDRImg.hdr'; Hu: 'ref_hdr_aligned_linear.hdr')
%   out          CSV file for per-scene Q and the mean (default PRED_DIR/hdrvdp2.csv)
%
% Each scene is scored as  res = hdrvdp(test, reference, 'sRGB-display', ppd)  on the linear HDR
% values, the field's convention (sRGB-display formally expects display-referred values in [0,1]).
% Needs MATLAB's hdrread; GNU Octave is untested.

p = inputParser;
addParameter(p, 'recipe', 'default');
addParameter(p, 'hdrvdp_path', '');
addParameter(p, 'label_name', 'HDRImg.hdr');
addParameter(p, 'out', fullfile(pred_dir, 'hdrvdp2.csv'));
parse(p, varargin{:});
opt = p.Results;
if ~isempty(opt.hdrvdp_path)
    addpath(opt.hdrvdp_path);
end
if exist('hdrvdp', 'file') ~= 2
    error('eval_hdrvdp2:missing', 'hdrvdp not found: install HDR-VDP 2.2.x and pass ''hdrvdp_path''');
end

switch lower(opt.recipe)
    case 'default', diagonal = 24; distance = 0.50; fixed_res = [];
    case 'sctnet',  diagonal = 30; distance = 0.55; fixed_res = [1500 1000];
    case 'safnet',  diagonal = 28; distance = 0.55; fixed_res = [];
    otherwise, error('eval_hdrvdp2:recipe', 'unknown recipe %s (default, sctnet, safnet)', opt.recipe);
end

files = dir(fullfile(pred_dir, '*.hdr'));
names = {}; q = [];
for i = 1:numel(files)
    [~, scene] = fileparts(files(i).name);
    label_file = fullfile(label_dir, scene, opt.label_name);
    if exist(label_file, 'file') ~= 2
        fprintf('skipping %s: no label %s\n', scene, label_file);
        continue;
    end
    test = hdrread(fullfile(pred_dir, files(i).name));
    ref = hdrread(label_file);
    res = fixed_res;
    if isempty(res), res = [size(ref, 2) size(ref, 1)]; end
    ppd = hdrvdp_pix_per_deg(diagonal, res, distance);
    r = hdrvdp(test, ref, 'sRGB-display', ppd);
    names{end + 1} = scene; %#ok<AGROW>
    q(end + 1) = r.Q; %#ok<AGROW>
    fprintf('%s  Q = %.4f  (ppd %.2f)\n', scene, r.Q, ppd);
end

fid = fopen(opt.out, 'w');
fprintf(fid, 'scene,hdrvdp2_q\n');
for i = 1:numel(names)
    fprintf(fid, '%s,%.6f\n', names{i}, q(i));
end
fprintf(fid, 'mean,%.6f\n', mean(q));
fprintf(fid, '# recipe %s: %g-inch display at %.2f m; hdrvdp(test, ref, ''sRGB-display'', ppd)\n', ...
        opt.recipe, diagonal, distance);
fclose(fid);
fprintf('HDR-VDP-2 mean Q over %d scenes: %.4f (recipe %s) -> %s\n', numel(q), mean(q), opt.recipe, opt.out);
results = struct('scene', {names}, 'Q', q, 'mean', mean(q), 'recipe', opt.recipe);
end

"Packaging for sau_nb: everything is read from settings.ini (nbdev's single source of metadata)."
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

licenses = {'apache2': ('Apache-2.0',)}  # an SPDX expression (setuptools deprecates license classifiers)
statuses = ['Planning', 'Pre-Alpha', 'Alpha', 'Beta', 'Production/Stable', 'Mature', 'Inactive']
lic = licenses[cfg['license']]
min_python = cfg['min_python']
py_versions = '3.10 3.11 3.12 3.13'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
gpu_requirements = shlex.split(cfg.get('gpu_requirements', ''))  # 8-bit AdamW for sau_unlearn(memory='t4'), CUDA only
console_scripts = cfg.get('console_scripts', '').split()

setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    license_expression=lic[0], author=cfg['author'], author_email=cfg['author_email'], keywords=cfg['keywords'],
    classifiers=['Development Status :: ' + str(cfg['status']) + ' - ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(), 'Natural Language :: ' + cfg['language'].title(),
                ] + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'], packages=setuptools.find_namespace_packages(include=['sau_nb', 'sau_nb.*']),  # data folders too (weights/, configs/): setuptools' documented way
    include_package_data=True, install_requires=requirements,
    extras_require={'dev': dev_requirements, 'notebooks': ['jupyterlab>=4', 'ipywidgets>=7.7'], 'gpu': gpu_requirements},
    python_requires='>=' + min_python, long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown', zip_safe=False,
    entry_points={'console_scripts': console_scripts, 'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
